// `autocal campaign …` and `autocal rtype …`: runtime campaigns and their run
// types over the control API (CreateCampaign, ListCampaigns,
// ChangeCampaignState, CreateRunType, UpdateRunType). The pure parts (a tag
// target, a run filter, the listing's lines) are exported for tests.
// `autocal campaign replay` is not this file's (left to its own command).
import { parseArgs } from 'node:util'
import { create, toJson, type MessageInitShape } from '@bufbuild/protobuf'
import {
  CampaignKind, CampaignState, type ControlService, ListCampaignsResponseSchema, RunFilterDefinitionSchema, TagTargetSchema,
  type CampaignDefinition, type CampaignInfo, type RunFilterDefinition, type TagTarget
} from '@autocal/contracts'
import type { GrpcClient } from '@autocal/runtime'
import { parseDuration } from '@autocal/task-dispatcher'
import type { Io } from './cli.ts'

/** The control API client of the connection flags (--server, --ca, --token, --token-file; cli.ts builds it). */
export type Connect = (flags: { server?: string | undefined, ca?: string | undefined, token?: string | undefined, 'token-file'?: string | undefined }) => GrpcClient<typeof ControlService>

/** A command line the campaign commands cannot use (exit 2, with the usage hint). */
export class CampaignUsageError extends Error {}

export const campaignUsage = `  campaign create NAME --workflow SUBSYSTEM/workflow... [--subsystem S]... (--live | --reprocessing)
                  [--dry-run | --no-dry-run] [--tag TASK=TAG:SYNC]... [--database DB] [--write-prompt-tags]
                  [--notify CHANNEL] --reason TEXT        a runtime campaign (autocal.campaigns.v1), active
  campaign list [NAME] [--json]       every campaign: state, kind, workflows, run types (runtime and YAML)
  campaign pause|resume|close NAME --reason TEXT
                                      paused: runs recorded, nothing dispatched until resume; closed: no new runs
  rtype create CAMPAIGN NAME --tasks a,b [--class C[,C]] [--era E[,E]] [--global | --no-global]
                  [--min-duration 10m] [--min-lumi PB] [--stable-beams] --reason TEXT
  rtype update CAMPAIGN NAME [--add TASK]... [--remove TASK]... --reason TEXT
                                      runs planned from now on get the new tasks; inject runs again to add them to older ones
  rtype list CAMPAIGN [--json]        the campaign's run types: filter, tasks, revision
`

const options = {
  server: { type: 'string' },
  token: { type: 'string' },
  'token-file': { type: 'string' },
  ca: { type: 'string' },
  json: { type: 'boolean' },
  reason: { type: 'string', short: 'm' },
  subsystem: { type: 'string', short: 's', multiple: true },
  workflow: { type: 'string', short: 'w', multiple: true },
  live: { type: 'boolean' },
  reprocessing: { type: 'boolean' },
  'dry-run': { type: 'boolean' },
  tag: { type: 'string', multiple: true },
  database: { type: 'string' },
  'write-prompt-tags': { type: 'boolean' },
  notify: { type: 'string' },
  class: { type: 'string' },
  era: { type: 'string' },
  global: { type: 'boolean' },
  'min-duration': { type: 'string' },
  'min-lumi': { type: 'string' },
  'stable-beams': { type: 'boolean' },
  tasks: { type: 'string' },
  add: { type: 'string', multiple: true },
  remove: { type: 'string', multiple: true },
  help: { type: 'boolean', short: 'h' }
} as const

/**
 * `TASK=TAG:SYNC` of `--tag`: the destination tag and synchronization of a
 * task's conditions in the campaign (YAML `campaigns[].conditions.tags`).
 * Throws CampaignUsageError naming the flag and what is expected.
 */
export function tagTargetOf (text: string): { task: string, target: TagTarget } {
  const m = /^([^=]+)=([^:]+):([^:]+)$/.exec(text)
  if (m === null) throw new CampaignUsageError(`--tag: expected TASK=TAG:SYNC (e.g. timing-calib=EcalTiming_rereco:offline), got '${text}'`)
  return { task: m[1] as string, target: create(TagTargetSchema, { tag: m[2] as string, sync: m[3] as string }) }
}

/** A comma-separated list without empty items. */
const list = (text: string | undefined): string[] => (text ?? '').split(',').map(s => s.trim()).filter(s => s !== '')

/**
 * The run filter of `rtype create`: --class (run classes), --era, --global,
 * --min-duration (a duration: 600, 10m, 1h30m), --min-lumi (/pb),
 * --stable-beams. Throws CampaignUsageError for a value that is not one.
 */
export function runFilterOf (v: { class?: string | undefined, era?: string | undefined, global?: boolean | undefined, 'min-duration'?: string | undefined, 'min-lumi'?: string | undefined, 'stable-beams'?: boolean | undefined }): RunFilterDefinition {
  const init: MessageInitShape<typeof RunFilterDefinitionSchema> = { runClasses: list(v.class).map(c => c.toLowerCase()), eras: list(v.era) }
  if (v.global !== undefined) init.global = v.global
  if (v['stable-beams'] !== undefined) init.stableBeams = v['stable-beams']
  if (v['min-duration'] !== undefined) {
    const s = parseDuration(v['min-duration'])
    if (s === undefined) throw new CampaignUsageError(`--min-duration: expected a duration such as 600, 10m or 1h30m, got '${v['min-duration']}'`)
    init.minDurationS = s
  }
  if (v['min-lumi'] !== undefined) {
    const pb = Number(v['min-lumi'])
    if (v['min-lumi'].trim() === '' || !Number.isFinite(pb) || pb < 0) throw new CampaignUsageError(`--min-lumi: expected a recorded luminosity in /pb (a number ≥ 0), got '${v['min-lumi']}'`)
    init.minRecordedLumiPb = pb
  }
  return create(RunFilterDefinitionSchema, init)
}

const stateText: Record<CampaignState, string> = { [CampaignState.UNSPECIFIED]: 'active', [CampaignState.ACTIVE]: 'active', [CampaignState.PAUSED]: 'paused', [CampaignState.CLOSED]: 'closed' }
const kindText: Record<CampaignKind, string> = { [CampaignKind.UNSPECIFIED]: '?', [CampaignKind.LIVE]: 'live', [CampaignKind.REPROCESSING]: 'reprocessing' }

/** A run filter in words: "class collisions2022 era Run2022C ≥ 600 s" ("any run" when empty). */
export function filterText (f: RunFilterDefinition | undefined): string {
  if (f === undefined) return 'any run'
  const parts: string[] = []
  if (f.runClasses.length > 0) parts.push(`class ${f.runClasses.join(',')}`)
  if (f.eras.length > 0) parts.push(`era ${f.eras.join(',')}`)
  if (f.global !== undefined) parts.push(f.global ? 'global' : 'not global')
  if (f.minDurationS !== undefined) parts.push(`≥ ${f.minDurationS} s`)
  if (f.minRecordedLumiPb !== undefined) parts.push(`≥ ${f.minRecordedLumiPb} /pb`)
  if (f.stableBeams !== undefined) parts.push(f.stableBeams ? 'stable beams' : 'no stable beams')
  return parts.length === 0 ? 'any run' : parts.join(' ')
}

/** One line per campaign: name, state, kind, source, subsystems, workflows, run types, last change. */
export function campaignLines (campaigns: readonly CampaignInfo[]): string[] {
  return campaigns.flatMap(c => {
    const d = c.definition
    if (d === undefined) return []
    const change = c.source === 'yaml' ? 'workflow files' : `revision ${d.revision} by ${d.changedBy}`
    return [`${d.name}\t${stateText[d.state]}\t${kindText[d.kind]}\t${c.source}\t${d.subsystems.join(',')}\t${d.workflows.map(w => `${w.subsystem}/${w.workflow}`).join(',')}\trun types ${d.runTypes.map(r => r.name).join(',') || '-'}\t${change}`]
  })
}

/** One line per run type of a campaign: name, tasks, filter, the revision that last changed it. */
export function runTypeLines (d: CampaignDefinition): string[] {
  return d.runTypes.map(r => `${r.name}\ttasks ${r.tasks.join(',')}\t${filterText(r.filter)}${r.revision === 0 ? '' : `\trevision ${r.revision}`}`)
}

function need (value: string | undefined, what: string): string {
  if (value === undefined || value.trim() === '') throw new CampaignUsageError(`${what} is required`)
  return value
}

/**
 * Runs `autocal campaign …` / `autocal rtype …` (argv from the command on),
 * printing with `out`; throws CampaignUsageError for a bad command line.
 */
export async function runCampaignCli (argv: string[], io: Pick<Io, 'stdout'>, out: (line: string) => void, connectWith: Connect): Promise<number> {
  const { values: v, positionals } = parseArgs({ args: argv, options, allowPositionals: true, allowNegative: true, strict: true })
  const [command, sub, first, second, ...extra] = positionals
  if (v.help === true) {
    io.stdout.write(campaignUsage)
    return 0
  }
  let client: GrpcClient<typeof ControlService> | undefined
  const connect = (): GrpcClient<typeof ControlService> => {
    client = connectWith(v)
    return client
  }
  const noMore = (n: number): void => {
    const more = [first, second, ...extra].slice(n).filter(a => a !== undefined)
    if (more.length > 0) throw new CampaignUsageError(`${command ?? ''} ${sub ?? ''}: unexpected '${more.join(' ')}'`)
  }
  try {
    if (command === 'campaign') {
      switch (sub ?? '') {
        case 'create': {
          noMore(1)
          if (v.live === true && v.reprocessing === true) throw new CampaignUsageError('give --live or --reprocessing, not both')
          if (v.live !== true && v.reprocessing !== true) throw new CampaignUsageError('--live (receives live runs) or --reprocessing (only injected runs) is required')
          const tags: Record<string, TagTarget> = {}
          for (const t of v.tag ?? []) {
            const { task, target } = tagTargetOf(t)
            if (Object.hasOwn(tags, task)) throw new CampaignUsageError(`--tag: task '${task}' given twice`)
            tags[task] = target
          }
          const res = await connect().createCampaign({
            name: need(first, 'campaign create NAME'),
            workflows: v.workflow ?? [],
            subsystems: v.subsystem ?? [],
            kind: v.live === true ? CampaignKind.LIVE : CampaignKind.REPROCESSING,
            conditions: { tags, destinationDatabase: v.database ?? '', writePromptTags: v['write-prompt-tags'] === true, ...(v['dry-run'] === undefined ? {} : { dryRun: v['dry-run'] }) },
            notify: v.notify ?? '',
            reason: need(v.reason, '--reason')
          })
          const d = res.campaign
          out(`campaign ${d?.name ?? ''} created: ${kindText[d?.kind ?? CampaignKind.UNSPECIFIED]}, ${stateText[d?.state ?? CampaignState.UNSPECIFIED]}, workflows ${d?.workflows.map(w => `${w.subsystem}/${w.workflow}`).join(', ') ?? ''} (revision ${d?.revision ?? 0}); add run types with autocal rtype create`)
          return 0
        }
        case 'list': {
          noMore(1)
          const res = await connect().listCampaigns({ name: first ?? '' })
          if (v.json === true) out(JSON.stringify(toJson(ListCampaignsResponseSchema, res)))
          else for (const l of campaignLines(res.campaigns)) out(l)
          return 0
        }
        case 'pause':
        case 'resume':
        case 'close': {
          noMore(1)
          const state = sub === 'pause' ? CampaignState.PAUSED : sub === 'resume' ? CampaignState.ACTIVE : CampaignState.CLOSED
          const res = await connect().changeCampaignState({ name: need(first, `campaign ${sub} NAME`), state, reason: need(v.reason, '--reason') })
          out(`campaign ${res.campaign?.name ?? ''} ${stateText[res.campaign?.state ?? CampaignState.UNSPECIFIED]} (revision ${res.campaign?.revision ?? 0})`)
          return 0
        }
        default:
          throw new CampaignUsageError(`unknown campaign command '${sub ?? ''}' (create, list, pause, resume, close)`)
      }
    }
    switch (sub ?? '') {
      case 'create': {
        noMore(2)
        const tasks = list(v.tasks)
        if (tasks.length === 0) throw new CampaignUsageError('--tasks a,b is required: the tasks active on the run type')
        const res = await connect().createRunType({
          campaign: need(first, 'rtype create CAMPAIGN'),
          runType: { name: need(second, 'rtype create CAMPAIGN NAME'), filter: runFilterOf(v), tasks },
          reason: need(v.reason, '--reason')
        })
        out(`run type ${second ?? ''} of campaign ${first ?? ''} created: tasks ${tasks.join(', ')} (revision ${res.campaign?.revision ?? 0})`)
        return 0
      }
      case 'update': {
        noMore(2)
        const res = await connect().updateRunType({ campaign: need(first, 'rtype update CAMPAIGN'), name: need(second, 'rtype update CAMPAIGN NAME'), addTasks: v.add ?? [], removeTasks: v.remove ?? [], reason: need(v.reason, '--reason') })
        const rt = res.campaign?.runTypes.find(r => r.name === second)
        out(`run type ${second ?? ''} of campaign ${first ?? ''}: tasks ${rt?.tasks.join(', ') ?? ''} (revision ${res.campaign?.revision ?? 0}); runs planned from now on get them, inject runs planned before again to add them there`)
        return 0
      }
      case 'list': {
        noMore(1)
        const res = await connect().listCampaigns({ name: need(first, 'rtype list CAMPAIGN') })
        const d = res.campaigns[0]?.definition
        if (v.json === true) out(JSON.stringify(toJson(ListCampaignsResponseSchema, res).campaigns?.[0]?.definition?.runTypes ?? []))
        else if (d !== undefined) for (const l of runTypeLines(d)) out(l)
        return 0
      }
      default:
        throw new CampaignUsageError(`unknown rtype command '${sub ?? ''}' (create, update, list)`)
    }
  } finally {
    client?.close()
  }
}
