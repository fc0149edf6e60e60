/**
 * Browser identity store: load-or-create an Ed25519 key pair in IndexedDB.
 *
 * The CryptoKeyPair is stored by structured clone; the private key is generated
 * non-extractable, so page script (or an XSS) can sign while the page is open
 * but can never read the key bytes out. `indexedDB` is passed in so tests and
 * workers can supply their own factory.
 */
import { generateKeyPair, identityFromKeyPair, type Identity } from './identity.ts'
import { CodedError } from '../base/errors.ts'

export const DB_NAME = 'stoop-identity'
const STORE = 'keys'

function request<T>(req: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result)
    req.onerror = () => reject(req.error)
  })
}

function openDb(factory: IDBFactory): Promise<IDBDatabase> {
  const req = factory.open(DB_NAME, 1)
  req.onupgradeneeded = () => {
    if (!req.result.objectStoreNames.contains(STORE)) req.result.createObjectStore(STORE)
  }
  return request(req)
}

function isKeyPair(v: unknown): v is CryptoKeyPair {
  const p = v as CryptoKeyPair | undefined
  return !!p && p.privateKey instanceof CryptoKey && p.publicKey instanceof CryptoKey
}

/**
 * Loads the identity stored under `name` (default 'default'), or generates and stores one.
 * Two tabs racing on first run both end up with the key that was written first.
 */
export async function loadOrCreateBrowserIdentity(opts: { name?: string; indexedDB?: IDBFactory } = {}): Promise<Identity> {
  const name = opts.name ?? 'default'
  const db = await openDb(opts.indexedDB ?? globalThis.indexedDB)
  try {
    const existing = await request(db.transaction(STORE, 'readonly').objectStore(STORE).get(name))
    if (isKeyPair(existing)) return identityFromKeyPair(existing)
    const pair = await generateKeyPair(false)
    const tx = db.transaction(STORE, 'readwrite')
    const store = tx.objectStore(STORE)
    // `add` fails if another tab stored a key in between; then use that one.
    const added = await request(store.add(pair, name)).then(() => true, () => false)
    if (added) return identityFromKeyPair(pair)
    const winner = await request(db.transaction(STORE, 'readonly').objectStore(STORE).get(name))
    if (!isKeyPair(winner)) throw new CodedError('identity-store-failed', 'Could not store the identity key in IndexedDB')
    return identityFromKeyPair(winner)
  } finally {
    db.close()
  }
}
