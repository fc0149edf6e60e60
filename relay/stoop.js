#!/usr/bin/env node
// Entry point of the `stoop` command. The CLI is TypeScript shared with the
// PWA's src/, so it runs through tsx's loader rather than a separate build.
import { register } from 'tsx/esm/api'

register()
const { main } = await import('./cli.ts')
process.exitCode = await main(process.argv.slice(2))
