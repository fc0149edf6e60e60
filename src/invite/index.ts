/** Invite links: room id, room secret and optional signed grant in the URL fragment. */
export * from './link.ts'
