/**
 * Room model: signed append-only log in a Y.Doc, validated into an effective
 * state by pure functions. No network, timers or DOM. Rules: docs/room-rules.md.
 */
export * from './errors.ts'
export * from './entry.ts'
export * from './link-grant.ts'
export * from './room-id.ts'
export * from './entry-index.ts'
export * from './state.ts'
export * from './diff.ts'
export * from './guard.ts'
export * from './replica.ts'
export * from './actor.ts'
export * from './create-room.ts'
export * from './epoch-keys.ts'
export * from './epoch-secret.ts'
export * from './epoch-handoff.ts'
export * from './moderation-rules.ts'
export * from './chat-text.ts'
export type { ModerationBody } from './entry-moderation.ts'
