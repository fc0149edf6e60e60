import { CodedError } from '../base/errors.ts'

/** Why `stoop peer` stops (the CLI prints the message as its one line). */
export class PeerFailure extends CodedError {}
