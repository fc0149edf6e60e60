// Minimal declarations for the Holepunch modules (they ship none). Call sites
// narrow these to the few members they use.
declare module 'hyperswarm' {
  export default class Hyperswarm {
    constructor(opts?: Record<string, unknown>)
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- narrowed at call sites
    [member: string]: any
  }
}

declare module 'hyperdht' {
  export default class HyperDHT {
    constructor(opts?: Record<string, unknown>)
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- narrowed at call sites
    [member: string]: any
  }
}

declare module 'hyperdht/testnet.js' {
  export interface Testnet {
    bootstrap: { host: string; port: number }[]
    destroy(): Promise<void>
  }
  export default function createTestnet(size?: number, opts?: { host?: string; port?: number }): Promise<Testnet>
}
