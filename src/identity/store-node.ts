/**
 * Node identity store: load-or-create an Ed25519 key from a JWK file.
 *
 * The file holds the private JWK (`{kty:'OKP', crv:'Ed25519', d, x}`) and is
 * written with mode 0600 in a directory created with mode 0700; it is written to
 * a temporary name and hard-linked into place, so a crash never leaves half a
 * key and two processes starting at once end up with the same key. Once loaded,
 * the private key is re-imported as non-extractable.
 */
import { chmod, link, mkdir, readFile, unlink, writeFile } from 'node:fs/promises'
import { dirname } from 'node:path'
import { identityFromKeyPair, generateKeyPair, randomBytes, type Identity } from './identity.ts'
import { fromBase64url, toBase64url } from './base64url.ts'
import { CodedError } from '../base/errors.ts'

export const ERR_BAD_KEY_FILE = 'bad-key-file'

interface StoredKey {
  kty: 'OKP'
  crv: 'Ed25519'
  d: string
  x: string
}

function badFile(path: string, why: string, cause?: unknown): Error {
  return new CodedError(ERR_BAD_KEY_FILE, `Identity file ${path} is not a usable Ed25519 key: ${why}`, { cause })
}

async function importStored(path: string, jwk: StoredKey): Promise<Identity> {
  const pub = fromBase64url(jwk.x)
  if (!pub || pub.length !== 32) throw badFile(path, 'public part "x" is not 32 bytes')
  const subtle = globalThis.crypto.subtle
  let privateKey: CryptoKey
  let publicKey: CryptoKey
  try {
    privateKey = await subtle.importKey('jwk', { ...jwk, key_ops: ['sign'] }, { name: 'Ed25519' }, false, ['sign'])
    publicKey = await subtle.importKey('raw', pub as Uint8Array<ArrayBuffer>, { name: 'Ed25519' }, true, ['verify'])
  } catch (err) {
    throw badFile(path, 'WebCrypto refused the key', err)
  }
  return identityFromKeyPair({ privateKey, publicKey })
}

/** Loads the identity at `path`, or creates one there (parent dirs included) if the file does not exist. */
export async function loadOrCreateIdentity(path: string): Promise<Identity> {
  let text: string | null = null
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
  }
  if (text !== null) {
    let jwk: unknown
    try {
      jwk = JSON.parse(text)
    } catch (err) {
      throw badFile(path, 'not JSON', err)
    }
    const k = jwk as Partial<StoredKey>
    if (!k || k.kty !== 'OKP' || k.crv !== 'Ed25519' || typeof k.d !== 'string' || typeof k.x !== 'string') {
      throw badFile(path, 'expected a JWK with kty OKP, crv Ed25519, d and x')
    }
    return importStored(path, k as StoredKey)
  }
  const pair = await generateKeyPair(true)
  const full = await globalThis.crypto.subtle.exportKey('jwk', pair.privateKey)
  const stored: StoredKey = { kty: 'OKP', crv: 'Ed25519', d: full.d!, x: full.x! }
  await mkdir(dirname(path), { recursive: true, mode: 0o700 })
  const tmp = `${path}.${process.pid}.${toBase64url(randomBytes(6))}.tmp`
  await writeFile(tmp, JSON.stringify(stored) + '\n', { mode: 0o600, flag: 'wx' })
  await chmod(tmp, 0o600) // umask cannot widen it, but be explicit
  // link() fails if another process created the file meanwhile: then use theirs.
  let won = true
  try {
    await link(tmp, path)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
    won = false
  } finally {
    await unlink(tmp)
  }
  return won ? importStored(path, stored) : loadOrCreateIdentity(path)
}
