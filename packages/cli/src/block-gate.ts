// `autocal block close CAMPAIGN BLOCK --reason …` and `autocal gate force
// CAMPAIGN BLOCK TASK [--gate NAME] --reason …`: operator actions on blocks
// and gates over the control API (CloseBlock, ForceGate). The dispatcher
// checks, authorises and audits them; this only parses and prints.
import { toJson } from '@bufbuild/protobuf'
import { CloseBlockResponseSchema, type ControlService, ForceGateResponseSchema } from '@autocal/contracts'
import type { GrpcClient } from '@autocal/runtime'

/** Raised for a wrong use of the command (exit 2). */
export class BlockGateUsageError extends Error {}

export interface BlockGateOptions { reason?: string | undefined, gate?: string | undefined, json?: boolean | undefined }

/**
 * Runs `block close …` (`command` 'block') or `gate force …` ('gate') with
 * the positionals after the subcommand; prints one line (or the answer as
 * proto3 JSON with --json). Usage errors: a wrong subcommand, a missing
 * positional or --reason. Returns the exit code.
 */
export async function runBlockGate (command: 'block' | 'gate', sub: string | undefined, rest: string[], o: BlockGateOptions, out: (line: string) => void, connect: () => GrpcClient<typeof ControlService>): Promise<number> {
  const reason = o.reason ?? ''
  if (command === 'block') {
    if (sub !== 'close') throw new BlockGateUsageError(`block takes the subcommand close, got '${sub ?? ''}'`)
    const [campaign, blockId, ...extra] = rest
    if (campaign === undefined || blockId === undefined || extra.length > 0) throw new BlockGateUsageError('usage: autocal block close CAMPAIGN BLOCK --reason TEXT')
    if (reason === '') throw new BlockGateUsageError('block close needs --reason: every operator action is audited with who and why')
    const res = await connect().closeBlock({ campaign, blockId, reason })
    if (o.json === true) out(JSON.stringify(toJson(CloseBlockResponseSchema, res)))
    else out(`block ${blockId} of campaign ${campaign} closed for ${res.tasks.join(', ')} with ${res.runs.length} run(s)${res.runs.length === 0 ? '' : ` (${res.runs.slice(0, 10).join(', ')}${res.runs.length > 10 ? ', …' : ''})`} (command ${res.commandId})`)
    return 0
  }
  if (sub !== 'force') throw new BlockGateUsageError(`gate takes the subcommand force, got '${sub ?? ''}'`)
  const [campaign, blockId, task, ...extra] = rest
  if (campaign === undefined || blockId === undefined || task === undefined || extra.length > 0) throw new BlockGateUsageError('usage: autocal gate force CAMPAIGN BLOCK TASK [--gate NAME] --reason TEXT')
  if (reason === '') throw new BlockGateUsageError('gate force needs --reason: every operator action is audited with who and why')
  const res = await connect().forceGate({ campaign, blockId, task, gate: o.gate ?? '', reason })
  if (o.json === true) out(JSON.stringify(toJson(ForceGateResponseSchema, res)))
  else out(`gate(s) ${res.gates.join(', ')} of ${task} on ${blockId} forced open (command ${res.commandId})`)
  return 0
}
