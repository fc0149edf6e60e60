import { describe, expect, it } from 'vitest'
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  fingerprint, fromBase64url, generateIdentity, keyId, publicKeyFromId, toBase64url, verifySignature,
} from '../../../src/identity/index.ts'
import { loadOrCreateIdentity } from '../../../src/identity/store-node.ts'

describe('identity', () => {
  it('signs and verifies; garbage verifies false without throwing', async () => {
    const id = await generateIdentity()
    const msg = new TextEncoder().encode('hello')
    const sig = await id.sign(msg)
    expect(id.publicKey).toHaveLength(32)
    expect(sig).toHaveLength(64)
    expect(await verifySignature(id.publicKey, msg, sig)).toBe(true)
    expect(await verifySignature(id.publicKey, new TextEncoder().encode('hellO'), sig)).toBe(false)
    const bad = sig.slice()
    bad[0]! ^= 1
    expect(await verifySignature(id.publicKey, msg, bad)).toBe(false)
    expect(await verifySignature(new Uint8Array(32), msg, sig)).toBe(false)
    expect(await verifySignature(new Uint8Array(31), msg, sig)).toBe(false)
    expect(await verifySignature(id.publicKey, msg, new Uint8Array(3))).toBe(false)
    expect(await verifySignature('x' as unknown as Uint8Array, msg, sig)).toBe(false)
    expect(await verifySignature(new Uint8Array(32).fill(0xff), msg, new Uint8Array(64).fill(0xff))).toBe(false)
  })

  it('key ids and fingerprints', async () => {
    const id = await generateIdentity()
    const k = keyId(id.publicKey)
    expect(k).toMatch(/^[A-Za-z0-9_-]{43}$/)
    expect(publicKeyFromId(k)).toEqual(id.publicKey)
    expect(publicKeyFromId('short')).toBeNull()
    expect(fingerprint(id.publicKey)).toMatch(/^[a-z2-7]{4}-[a-z2-7]{4}$/)
    expect(fingerprint(id.publicKey)).toBe(fingerprint(id.publicKey.slice()))
  })

  it('base64url round-trips and rejects invalid text', () => {
    for (let n = 0; n < 50; n++) {
      const b = globalThis.crypto.getRandomValues(new Uint8Array(n))
      const s = toBase64url(b)
      expect(s).toBe(Buffer.from(b).toString('base64url'))
      expect(fromBase64url(s)).toEqual(b)
    }
    expect(fromBase64url('ab+c')).toBeNull()
    expect(fromBase64url('abcde')).toBeNull()
    expect(fromBase64url('AB')).toBeNull() // non-zero leftover bits
    expect(fromBase64url('AA')).toEqual(new Uint8Array([0]))
  })
})

describe('node identity store', () => {
  it('creates the file with mode 0600 (and parent dirs) and reloads the same key', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'stoop-id-'))
    try {
      const path = join(dir, 'nested', 'deeper', 'identity.json')
      const a = await loadOrCreateIdentity(path)
      const st = await stat(path)
      expect(st.mode & 0o777).toBe(0o600)
      const b = await loadOrCreateIdentity(path)
      expect(b.publicKey).toEqual(a.publicKey)
      const msg = new Uint8Array([1, 2, 3])
      expect(await verifySignature(a.publicKey, msg, await b.sign(msg))).toBe(true)
      const json = JSON.parse(await readFile(path, 'utf8'))
      expect(json).toMatchObject({ kty: 'OKP', crv: 'Ed25519' })
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })

  it('refuses a damaged key file with a stable code', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'stoop-id-'))
    try {
      const path = join(dir, 'identity.json')
      await writeFile(path, 'not json')
      await expect(loadOrCreateIdentity(path)).rejects.toMatchObject({ code: 'bad-key-file' })
      await writeFile(path, JSON.stringify({ kty: 'OKP', crv: 'Ed25519', d: 'AA', x: 'AA' }))
      await expect(loadOrCreateIdentity(path)).rejects.toMatchObject({ code: 'bad-key-file' })
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})

describe('node identity store, concurrent first run', () => {
  it('two loaders racing on a new path get the same key', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'stoop-id-'))
    try {
      const path = join(dir, 'id.json')
      const [a, b] = await Promise.all([loadOrCreateIdentity(path), loadOrCreateIdentity(path)])
      expect(a.publicKey).toEqual(b.publicKey)
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})
