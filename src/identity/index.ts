/** Identity: Ed25519 keys over WebCrypto, ids, fingerprints, base64url. Stores live in store-node.ts / store-browser.ts. */
export * from './identity.ts'
export { toBase64url, fromBase64url } from './base64url.ts'
