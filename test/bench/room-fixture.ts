/**
 * Builds a realistic room history for benchmarks: N participants, a handful of
 * moderators, and filler activity (profiles, hands, invites, stage churn, a few
 * bans) until the log holds `entries` signed entries.
 */
import * as Y from 'yjs'
import { fromBase64url, generateIdentity, keyId, randomBytes, type Identity } from '../../src/identity/index.ts'
import { sealedText } from '../helpers/sealed-text.ts'
import { createRoom, signEntry, entryId, logOf, type EntryBody } from '../../src/room/index.ts'

export interface RoomFixture {
  doc: Y.Doc
  roomId: string
  /** The room secret (base64url), as the links carry it. */
  secret: string
  owner: Identity
  people: Identity[]
  bytes: Uint8Array[]
  now: number
}

export async function buildRoom(participants: number, entries: number, seed = 1): Promise<RoomFixture> {
  let rnd = seed >>> 0
  const rand = (n: number): number => {
    rnd = (rnd * 1664525 + 1013904223) >>> 0
    return rnd % n
  }
  const t0 = 1_700_000_000_000
  let t = t0
  const owner = await generateIdentity()
  const people = await Promise.all(Array.from({ length: participants }, () => generateIdentity()))
  const room = await createRoom(owner, { title: 'Bench room', topic: 'numbers', now: () => t0 })
  const log = logOf(room.doc)
  const bytes: Uint8Array[] = log.toArray()
  const genesisId = entryId(bytes[0]!)
  // Free text is sealed (docs/room-rules.md §9), under epoch 0's secret like a real room's.
  const text = (who: Identity, field: 'title' | 'topic' | 'name', s: string) => sealedText(room.roomId, who, field, s, fromBase64url(room.secret)!)
  const sign = async (who: Identity, body: EntryBody): Promise<string> => {
    const b = await signEntry(who, room.roomId, ++t, body)
    bytes.push(b)
    return entryId(b)
  }
  const mods = people.slice(0, Math.max(1, Math.floor(participants / 100)))
  const modAuth = new Map<Identity, string>()
  for (const m of mods) modAuth.set(m, await sign(owner, { kind: 'grant', auth: genesisId, role: 'moderator', subject: keyId(m.publicKey) }))
  for (const p of people) await sign(p, { kind: 'profile', seq: 1, name: text(p, 'name', `person ${keyId(p.publicKey).slice(0, 6)}`), muted: false })
  const openRaise = new Map<Identity, string>()
  const seats = new Map<Identity, string>()
  while (bytes.length < entries) {
    const p = people[rand(people.length)]!
    const op = rand(10)
    if (op < 3) {
      const r = openRaise.get(p)
      if (r) {
        await sign(p, { kind: 'lower', raise: r })
        openRaise.delete(p)
      } else if (!seats.has(p)) openRaise.set(p, await sign(p, { kind: 'raise', nonce: randomBytes(16) }))
    } else if (op < 5) {
      const seq = 2 + rand(1000)
      await sign(p, { kind: 'profile', seq, name: text(p, 'name', `person ${seq}`), muted: rand(2) === 0 })
    } else if (op < 7) {
      const seat = seats.get(p)
      if (seat) {
        await sign(p, { kind: 'leave', seat })
        seats.delete(p)
      } else if (seats.size < 12) {
        const m = mods[rand(mods.length)]!
        const inv = await sign(m, { kind: 'invite', auth: modAuth.get(m)!, subject: keyId(p.publicKey) })
        seats.set(p, await sign(p, { kind: 'accept', invite: inv }))
        const r = openRaise.get(p)
        if (r) {
          await sign(p, { kind: 'lower', raise: r })
          openRaise.delete(p)
        }
      }
    } else if (op < 8 && !mods.includes(p)) {
      const m = mods[rand(mods.length)]!
      const ban = await sign(m, { kind: 'ban', auth: modAuth.get(m)!, subject: keyId(p.publicKey) })
      await sign(m, { kind: 'unban', auth: modAuth.get(m)!, target: ban })
    } else if (op < 9) {
      const m = mods[rand(mods.length)]!
      await sign(m, { kind: 'meta', auth: modAuth.get(m)!, title: text(m, 'title', `Bench room ${rand(100)}`), topic: text(m, 'topic', 'numbers') })
    } else {
      await sign(p, { kind: 'profile', seq: 1 + rand(5), name: text(p, 'name', 'x'), muted: true })
    }
  }
  room.doc.transact(() => log.push(bytes.slice(log.length)))
  return { doc: room.doc, roomId: room.roomId, secret: room.secret, owner, people, bytes, now: t + 1 }
}
