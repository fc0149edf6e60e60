#!/usr/bin/env node
// Entry point of the `stoop` command. The CLI is TypeScript shared with the
// PWA's src/, so it runs through tsx's loader rather than a separate build.
import { register } from 'tsx/esm/api'

register()
const { main } = await import('./cli.ts')
const code = await main(process.argv.slice(2))
// Exit explicitly: @roamhq/wrtc segfaults in its native teardown when a process
// that created an RTCAudioSource ends by draining its event loop (node-webrtc #636).
process.exit(code)
