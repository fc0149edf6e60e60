/**
 * A tiny promise wrapper over one IndexedDB database with named object
 * stores of out-of-line keys. Used for the device's profile and its list of
 * recent rooms (room docs themselves persist through y-indexeddb, one
 * database per room). The factory is passed in so tests can supply their own.
 */
import { CodedError } from '../base/errors.ts'

export const APP_DB = 'stoop-app'
export const STORES = ['kv', 'rooms'] as const
export type StoreName = (typeof STORES)[number]

function request<T>(req: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result)
    req.onerror = () => reject(req.error)
  })
}

export class KvDb {
  #db: Promise<IDBDatabase> | null = null
  readonly #factory: () => IDBFactory

  constructor(factory: () => IDBFactory = () => globalThis.indexedDB) {
    this.#factory = factory
  }

  #open(): Promise<IDBDatabase> {
    this.#db ??= new Promise<IDBDatabase>((resolve, reject) => {
      const req = this.#factory().open(APP_DB, 1)
      req.onupgradeneeded = () => {
        for (const name of STORES) if (!req.result.objectStoreNames.contains(name)) req.result.createObjectStore(name)
      }
      req.onsuccess = () => resolve(req.result)
      req.onerror = () => reject(req.error)
      req.onblocked = () => reject(new CodedError('storage-blocked', 'The local database is blocked by another tab.'))
    }).catch((err: unknown) => {
      this.#db = null
      throw err
    })
    return this.#db
  }

  async get<T>(store: StoreName, key: string): Promise<T | undefined> {
    const db = await this.#open()
    return (await request(db.transaction(store, 'readonly').objectStore(store).get(key))) as T | undefined
  }

  async all<T>(store: StoreName): Promise<T[]> {
    const db = await this.#open()
    return (await request(db.transaction(store, 'readonly').objectStore(store).getAll())) as T[]
  }

  async put<T>(store: StoreName, key: string, value: T): Promise<void> {
    const db = await this.#open()
    await request(db.transaction(store, 'readwrite').objectStore(store).put(value, key))
  }

  async delete(store: StoreName, key: string): Promise<void> {
    const db = await this.#open()
    await request(db.transaction(store, 'readwrite').objectStore(store).delete(key))
  }
}
