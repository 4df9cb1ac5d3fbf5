// `autocal`: the operator command line over the task-dispatcher's gRPC
// ControlService. Errors are one line on stderr and a non-zero exit.
import { setTimeout as delay } from 'node:timers/promises'
import { readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { toJson, type MessageInitShape } from '@bufbuild/protobuf'
import {
  ControlService, GetStatusResponseSchema, InjectRunsResponseSchema, JobState, ListPendingConditionsResponseSchema, PromoteConditionResponseSchema, TaskEventSchema, TaskState, nameProblem, runProblem, taskStateName, type SelectorSchema, type TaskEvent
} from '@autocal/contracts'

type SelectorInit = MessageInitShape<typeof SelectorSchema>
import { createGrpcClient, grpc, type GrpcClient } from '@autocal/runtime'
// offline validation is the dispatcher's own validator (exported by @autocal/task-dispatcher as '.')
import { readWorkflowSources, validateSources } from '@autocal/task-dispatcher'
import { renderMatrix } from './status-matrix.ts'
import { DlqUsageError, runDlq } from './dlq.ts'
import { InjectUsageError, injectRunsOf } from './inject-runs.ts'
import { durationMs, runAudit } from './audit.ts'
import { terminalText } from './terminal-text.ts'
import { CliConfigError, withConfig } from './cli-config.ts'
import { cellKey, cellVersion, waitVerdict } from './wait-progress.ts'
import { createWaitDisplay, type WaitDisplay } from './wait-display.ts'
import { jobLines, jobRows, outputLines, outputRows } from './job-table.ts'
import { logUrlOf, readJobLog } from './job-log.ts'
import { ReplayUsageError, runCampaignReplay } from './campaign-replay.ts'
import { CampaignUsageError, campaignUsage, runCampaignCli } from './campaign.ts'
import { BlockGateUsageError, runBlockGate } from './block-gate.ts'

export interface Io {
  stdout: { write: (s: string) => unknown, isTTY?: boolean }
  stderr: { write: (s: string) => unknown, isTTY?: boolean }
  env: Record<string, string | undefined>
}

/**
 * The CLI's line printers. Every line passes through terminalText: text from
 * the server, Kafka or a file (names, reasons, run metadata, payload values)
 * never reaches the terminal as a control sequence. Tabs stay (columns).
 */
export function printers (io: Io): { out: (s: string) => void, err: (s: string) => void } {
  return {
    out: s => { io.stdout.write(terminalText(s, { keep: '\t' }) + '\n') },
    err: s => { io.stderr.write(terminalText(s, { keep: '\t' }) + '\n') }
  }
}

const usage = `usage: autocal <command> [options]

commands:
  workflows validate DIR [--remote]   validate workflow files (offline; --remote asks the server)
  workflows list                      workflows the dispatcher runs
  inject --campaign C (--runs 1,2 | --range A-B | --era E[,E] | --runs-file FILE)... --reason TEXT
                                      runs into a reprocessing campaign (also: runs inject); FILE: one run or
                                      FIRST-LAST range per line, # comments; --era: the known runs of the era
  status --campaign C [--task T]... [--runs ...] [--range A-B] [--subsystem S] [--json]
  reprocess|skip|cancel --campaign C [--task T]... [--runs ...] [--range A-B] [--block ID]... [--subsystem S] --reason TEXT [--wait [--timeout 30m]]
                                      reprocess --cascade: the tasks' downstream tasks on the same blocks too
  resubmit --failed-jobs --campaign C [--task T]... [--block ID]... [--runs ...] --reason TEXT [--wait [--timeout 30m]]
                                      run again only the unfinished jobs of failed tasks (next try, same attempt)
  block close CAMPAIGN BLOCK --reason TEXT
                                      close an open block (fill, lumi, era) now: its tasks run with the runs it has
  gate force CAMPAIGN BLOCK TASK [--gate NAME] --reason TEXT
                                      treat a waiting task's gate (default: all its readiness gates) as open
  jobs --campaign C [--task T]... [--runs ...] [--range A-B] [--block ID]... [--failed]   jobs with tries, states and log links
  logs JOB [--try N] [--tail LINES] [--follow] [--executor URL]  a job's log (JOB = campaign/block/task/attempt/index)
  outputs --campaign C [--era E] [--task T]... [--runs ...] [--range A-B]   outputs of the done tasks (path, size, sha256)
  watch [--campaign C] [--task T]... [--json]
  dlq list [--topic T] [--json]       dead letters (Kafka directly: --brokers, --prefix)
  dlq show ID... [--json]             one dead letter with its decoded value (ID = PARTITION/OFFSET)
  dlq redrive (ID... | --all [--topic T]) --reason TEXT [--actor NAME]
                                      send dead letters back to their topic, once each, audited
  conditions pending [--campaign C] [--subsystem S] [--json]     uploads waiting for sign-off
  conditions approve|reject --request ID --reason TEXT           sign-off of a checked payload
  conditions promote --request ID [--database DB] --reason TEXT  upload the recorded payload again (prep → prod)
  conditions at TAG RUN [--uploader URL] [--json]                the IOV and payload hash valid at RUN
  campaign replay --from TIME|RUN --to TIME|RUN --into C [--speed N|max] [--follow] --reason TEXT
                                      feed a recorded period's runs into a sandbox campaign, in order, gaps / N
  campaign replay --status ID [--follow] | --list [--campaign C] | --cancel ID --reason TEXT
  audit [--since 7d|TIME] [--principal P] [--action A] [--subsystem S] [--refused] [--json]
                                      operator actions on autocal.audit.v1, accepted or refused (Kafka directly)
${campaignUsage}
options:
  --server ADDRESS     control API address (env AUTOCAL_CONTROL_URL, default 127.0.0.1:50051);
                       grpcs://HOST:PORT = TLS (with the system's CAs unless --ca)
  --ca FILE            PEM CA of the control API's certificate; implies TLS (env AUTOCAL_CA_FILE)
  --token-file FILE    file holding the bearer token (env AUTOCAL_TOKEN_FILE, or the token in AUTOCAL_TOKEN);
                       --token TOKEN also works but shows the token in the process list
  --uploader URL       condition-uploader HTTP API (env AUTOCAL_UPLOADER_URL, default http://127.0.0.1:8084)
  --executor URL       job-executor HTTP API for logs (env AUTOCAL_EXECUTOR_URL, default http://127.0.0.1:8083)
  --json               every command: its answer as JSON (proto3 JSON for the control API's answers)

config file: $AUTOCAL_CONFIG, else ~/.config/autocal/config.json ($XDG_CONFIG_HOME/autocal/config.json), e.g.
  {"server": "grpcs://dispatcher.example:50051", "ca": "ca.crt", "tokenFile": "~/.autocal-token",
   "readTokenFile": "~/.autocal-read-token", "uploader": "http://127.0.0.1:8084", "executor": "http://127.0.0.1:8083"}
  flags win over the environment, the environment over the file; relative paths are from the file's directory
`

class UsageError extends Error {}

const options = {
  server: { type: 'string' },
  token: { type: 'string' },
  'token-file': { type: 'string' },
  ca: { type: 'string' },
  since: { type: 'string' },
  principal: { type: 'string' },
  action: { type: 'string' },
  refused: { type: 'boolean' },
  campaign: { type: 'string', short: 'c' },
  task: { type: 'string', short: 't', multiple: true },
  runs: { type: 'string', short: 'r' },
  range: { type: 'string' },
  block: { type: 'string', multiple: true },
  subsystem: { type: 'string', short: 's' },
  reason: { type: 'string', short: 'm' },
  json: { type: 'boolean' },
  wait: { type: 'boolean' },
  remote: { type: 'boolean' },
  brokers: { type: 'string' },
  prefix: { type: 'string' },
  topic: { type: 'string' },
  actor: { type: 'string' },
  all: { type: 'boolean' },
  request: { type: 'string' },
  gate: { type: 'string' },
  database: { type: 'string' },
  uploader: { type: 'string' },
  executor: { type: 'string' },
  timeout: { type: 'string' },
  try: { type: 'string' },
  tail: { type: 'string' },
  follow: { type: 'boolean', short: 'f' },
  failed: { type: 'boolean' },
  'failed-jobs': { type: 'boolean' },
  cascade: { type: 'boolean' },
  era: { type: 'string' },
  'runs-file': { type: 'string' },
  from: { type: 'string' },
  to: { type: 'string' },
  into: { type: 'string' },
  speed: { type: 'string' },
  status: { type: 'string' },
  list: { type: 'boolean' },
  cancel: { type: 'string' },
  help: { type: 'boolean', short: 'h' }
} as const

type Values = ReturnType<typeof parseArgs<{ options: typeof options, allowPositionals: true }>>['values']

function runList (text: string | undefined): number[] {
  if (text === undefined) return []
  return text.split(',').map(s => s.trim()).filter(s => s !== '').map(s => {
    if (!/^\d+$/.test(s)) throw new UsageError(`--runs: '${s}' is not a run number`)
    const problem = runProblem(BigInt(s))
    if (problem !== undefined) throw new UsageError(`--runs: ${problem}`)
    return Number(s)
  })
}

function range (text: string | undefined): [number, number] {
  if (text === undefined) return [0, 0]
  const m = /^(\d+)-(\d+)$/.exec(text)
  if (m === null || Number(m[1]) > Number(m[2])) throw new UsageError(`--range: expected FIRST-LAST with FIRST <= LAST, got '${text}'`)
  // a run outside 1 ≤ run < 2^32 is refused here, not by the gRPC encoder as an INTERNAL error
  const problem = runProblem(BigInt(m[1] ?? '')) ?? runProblem(BigInt(m[2] ?? ''))
  if (problem !== undefined) throw new UsageError(`--range: ${problem}`)
  return [Number(m[1]), Number(m[2])]
}

function selectorOf (v: Values): SelectorInit {
  const [firstRun, lastRun] = range(v.range)
  return { campaign: v.campaign ?? '', tasks: v.task ?? [], runs: runList(v.runs), firstRun, lastRun, blockIds: v.block ?? [], subsystem: v.subsystem ?? '' }
}

function need (value: string | undefined, flag: string): string {
  if (value === undefined || value.trim() === '') throw new UsageError(`${flag} is required`)
  return value
}

const nonEmpty = (s: string | undefined): string | undefined => s === undefined || s.trim() === '' ? undefined : s

/**
 * The bearer token: --token, else the file of --token-file or
 * AUTOCAL_TOKEN_FILE (first line, trimmed), else AUTOCAL_TOKEN. Two sources
 * on one level are a usage error; an unreadable or empty file names itself.
 */
export function tokenOf (v: { token?: string | undefined, 'token-file'?: string | undefined }, env: Record<string, string | undefined>): string | undefined {
  if (v.token !== undefined && v['token-file'] !== undefined) throw new UsageError('give --token or --token-file, not both')
  if (v.token !== undefined) return v.token
  const file = v['token-file'] ?? nonEmpty(env.AUTOCAL_TOKEN_FILE)
  if (file === undefined) return nonEmpty(env.AUTOCAL_TOKEN)
  const flag = v['token-file'] !== undefined ? '--token-file' : 'AUTOCAL_TOKEN_FILE'
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (err) {
    throw new UsageError(`${flag} ${file}: cannot read it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`)
  }
  const token = text.split('\n')[0]?.trim() ?? ''
  if (token === '') throw new UsageError(`${flag} ${file}: the file is empty`)
  return token
}

/**
 * The token that reads (job logs, the uploader's IOVs): AUTOCAL_READ_TOKEN,
 * else the first line of AUTOCAL_READ_TOKEN_FILE (or the config file's
 * readTokenFile), else the control token (tokenOf).
 */
export function readTokenOf (v: { token?: string | undefined, 'token-file'?: string | undefined }, env: Record<string, string | undefined>): string | undefined {
  const token = nonEmpty(env.AUTOCAL_READ_TOKEN)
  if (token !== undefined) return token
  const file = nonEmpty(env.AUTOCAL_READ_TOKEN_FILE)
  if (file === undefined) return tokenOf(v, env)
  return tokenOf({ 'token-file': file }, {})
}

/**
 * Address and channel credentials of the control API: `grpcs://host:port`
 * or a CA file means TLS (the CA, else the system's CAs), `grpc://host:port`
 * or `host:port` plaintext. An unreadable CA file is a usage error naming it.
 */
export function channelOf (server: string, caFile: string | undefined): { address: string, credentials: grpc.ChannelCredentials | undefined } {
  const tls = server.startsWith('grpcs://') || server.startsWith('https://')
  const address = server.replace(/^(grpcs?|https?):\/\//, '')
  if (caFile === undefined) return { address, credentials: tls ? grpc.credentials.createSsl() : undefined }
  let ca: Buffer
  try {
    ca = readFileSync(caFile)
  } catch (err) {
    throw new UsageError(`--ca ${caFile}: cannot read it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`)
  }
  return { address, credentials: grpc.credentials.createSsl(ca) }
}

/** One line for any error: gRPC status name and details, or the message. */
export function errorLine (err: unknown): string {
  const e = err as { code?: number, details?: string, message?: string }
  if (typeof e.code === 'number' && typeof e.details === 'string') {
    const name = Object.entries(grpc.status).find(([, v]) => v === e.code)?.[0] ?? String(e.code)
    const tls = /certificate|ssl|tls|handshake/i.test(e.details)
    const hint = e.code !== grpc.status.UNAVAILABLE
      ? ''
      : tls
        ? " (TLS: the control API's certificate is not trusted: give its CA with --ca FILE or AUTOCAL_CA_FILE)"
        : ' (is the task-dispatcher running? --server / AUTOCAL_CONTROL_URL; a TLS server needs grpcs:// or --ca)'
    return `${name}: ${(e.details.split('\n')[0] ?? '').replace(/\. Resolution note:.*$/, '')}${hint}`
  }
  return (e.message ?? String(err)).split('\n')[0] ?? ''
}

/** The control API client of the connection flags, else the environment (AUTOCAL_CONTROL_URL, AUTOCAL_CA_FILE, the token's sources). */
function connectWith (v: { server?: string | undefined, ca?: string | undefined, token?: string | undefined, 'token-file'?: string | undefined }, env: Record<string, string | undefined>): GrpcClient<typeof ControlService> {
  const { address, credentials } = channelOf(v.server ?? env.AUTOCAL_CONTROL_URL ?? '127.0.0.1:50051', v.ca ?? nonEmpty(env.AUTOCAL_CA_FILE))
  return createGrpcClient(ControlService, address, { token: tokenOf(v, env), deadlineMs: 30_000, ...(credentials === undefined ? {} : { credentials }) })
}

export async function runCli (argv: string[], io: Io): Promise<number> {
  let client: GrpcClient<typeof ControlService> | undefined
  const { out, err: errLine } = printers(io)
  // the CLI's own control sequence (clear the line) around neutralised text
  const progress = (s: string, last = false): void => { io.stderr.write(io.stderr.isTTY === true ? `\r\u001b[K${terminalText(s)}${last ? '\n' : ''}` : terminalText(s) + '\n') }
  try {
    io = { ...io, env: withConfig(io.env) }
    // runtime campaigns and run types: their own options (campaign.ts); `campaign replay` is another command's
    if (argv[0] === 'rtype' || (argv[0] === 'campaign' && argv[1] !== 'replay')) return await runCampaignCli(argv, io, out, flags => connectWith(flags, io.env))
    const { values: v, positionals } = parseArgs({ args: argv, options, allowPositionals: true, strict: true })
    const [command, sub, ...rest] = positionals
    if (v.help === true || command === undefined) {
      io.stdout.write(usage)
      return command === undefined && v.help !== true ? 2 : 0
    }
    const connect = (): GrpcClient<typeof ControlService> => {
      client = connectWith(v, io.env)
      return client
    }

    switch (command) {
      case 'workflows': {
        if (sub === 'validate') {
          const dir = rest[0]
          if (dir === undefined) throw new UsageError('workflows validate needs a DIR (or a file)')
          const sources = readWorkflowSources(dir)
          if (sources.length === 0) throw new Error(`${dir}: no workflow files (*.yaml)`)
          let errors: string[]
          let summary: string[]
          if (v.remote === true || v.server !== undefined) {
            const res = await connect().validateWorkflows({ files: sources.map(s => ({ name: s.name, content: s.content })) })
            errors = res.errors
            summary = res.workflows.map(w => `${w.subsystem}/${w.workflow}${w.branch === '' ? '' : ` (branch ${w.branch})`}: ${w.tasks.join(', ')} (campaigns ${w.campaigns.join(', ')})`)
          } else {
            const res = validateSources(sources, io.env)
            errors = res.errors
            summary = res.workflows.map(w => `${w.subsystem}/${w.workflow}${w.branch === '' ? '' : ` (branch ${w.branch})`}: ${w.tasks.map(t => t.name).join(', ')} (campaigns ${w.campaigns.map(c => c.name).join(', ')})`)
          }
          if (v.json === true) {
            out(JSON.stringify({ ok: errors.length === 0, files: sources.length, errors, workflows: summary }))
            return errors.length > 0 ? 1 : 0
          }
          for (const e of errors) errLine(e)
          if (errors.length > 0) {
            errLine(`${errors.length} error(s) in ${sources.length} file(s)`)
            return 1
          }
          for (const s of summary) out(s)
          out(`ok: ${sources.length} file(s) valid`)
          return 0
        }
        if (sub === 'list') {
          const res = await connect().listWorkflows({})
          if (v.json === true) out(JSON.stringify(res.workflows.map(w => ({ subsystem: w.subsystem, workflow: w.workflow, file: w.file, version: w.version, branch: w.branch, tasks: w.tasks, campaigns: w.campaigns }))))
          else for (const w of res.workflows) out(`${w.subsystem}/${w.workflow}@${w.version}${w.branch === '' ? '' : ` (branch ${w.branch})`} ${w.file}: ${w.tasks.join(', ')} (campaigns ${w.campaigns.join(', ')})`)
          return 0
        }
        throw new UsageError(`unknown workflows command '${sub ?? ''}' (validate, list)`)
      }
      case 'inject':
      case 'runs': {
        if (command === 'runs' && sub !== 'inject') throw new UsageError(`unknown runs command '${sub ?? ''}' (inject)`)
        const runs = injectRunsOf({ runs: runList(v.runs), range: range(v.range), era: v.era, runsFile: v['runs-file'] })
        progress(`injecting runs into ${need(v.campaign, '--campaign')}…`)
        const res = await connect().injectRuns({ campaign: v.campaign ?? '', reason: need(v.reason, '--reason'), runs })
        if (v.json === true) {
          out(JSON.stringify(toJson(InjectRunsResponseSchema, res)))
          return 0
        }
        progress(`accepted: ${res.runs} run(s) injected into ${v.campaign ?? ''} (command ${res.commandId})`, true)
        // nothing succeeds silently: runs no task of the campaign takes are said, with the filters' reasons
        if (res.excluded.length > 0) errLine(`autocal: warning: ${res.excluded.length} of the ${res.runs} run(s) are excluded by the campaign's filters; nothing will run on them:`)
        for (const x of res.excluded) errLine(`  ${x.run}: ${x.reason}`)
        return 0
      }
      case 'status': {
        const c = connect()
        const res = await c.getStatus({ selector: selectorOf(v) })
        if (v.json === true) {
          out(JSON.stringify(toJson(GetStatusResponseSchema, res)))
          return 0
        }
        // the failed tasks' failed jobs, for their log links
        const failed = res.cells.some(x => x.state === TaskState.FAILED) ? (await c.listTasks({ selector: { ...selectorOf(v), tasks: [...new Set(res.cells.filter(x => x.state === TaskState.FAILED).map(x => x.task))] } })).tasks : []
        // the matrix neutralises its own text and adds colours of its own
        io.stdout.write(renderMatrix(res, { colour: io.stdout.isTTY === true && io.env.NO_COLOR === undefined, failedJobs: failedJobLinks(failed) }) + '\n')
        return 0
      }
      case 'reprocess':
      case 'skip':
      case 'cancel':
      case 'resubmit': {
        if (command === 'resubmit' && v['failed-jobs'] !== true) throw new UsageError('resubmit needs --failed-jobs: it runs again only the unfinished jobs of failed tasks (to run whole tasks again: reprocess)')
        if (v.cascade === true && command !== 'reprocess') throw new UsageError('--cascade goes with reprocess (it reruns the downstream tasks of what it reprocesses)')
        if (v.cascade === true && (v.task === undefined || v.task.length === 0)) throw new UsageError('reprocess --cascade needs --task: the tasks whose downstream tasks are reprocessed too')
        const selector = selectorOf(v)
        need(v.campaign, '--campaign')
        const c = connect()
        const request = { selector, reason: need(v.reason, '--reason') }
        const before = v.wait === true ? await snapshot(c, selector) : new Map<string, string>()
        const timeoutMs = v.timeout === undefined ? undefined : durationMs(v.timeout)
        if (v.timeout !== undefined && (timeoutMs === undefined || timeoutMs === 0)) throw new UsageError(`--timeout: expected a duration (90s, 30m, 2h), got '${v.timeout}'`)
        if (v.timeout !== undefined && v.wait !== true) throw new UsageError('--timeout goes with --wait')
        if (command === 'resubmit') {
          const res = await c.resubmitFailedJobs(request)
          if (v.json === true) out(JSON.stringify({ commandId: res.commandId, matched: res.matched, jobs: res.jobs }))
          else out(`resubmit accepted: ${res.jobs} unfinished job(s) of ${res.matched} failed task(s) requested again (command ${res.commandId})`)
        } else {
          const res = command === 'reprocess' ? await c.reprocess({ ...request, cascade: v.cascade === true }) : command === 'skip' ? await c.skip(request) : await c.cancel(request)
          const cascaded = 'cascadedTasks' in res ? res.cascadedTasks : []
          if (v.json === true) out(JSON.stringify({ commandId: res.commandId, matched: res.matched, ...(v.cascade === true ? { cascadedTasks: cascaded } : {}) }))
          else out(`${command} accepted: ${res.matched} task(s) matched${v.cascade === true ? ` (with their downstream tasks: ${cascaded.join(', ') || 'none'})` : ''} (command ${res.commandId})`)
        }
        if (v.wait === true) return await waitSettled(c, selector, before, createWaitDisplay(io, v.json === true, progress), timeoutMs)
        return 0
      }
      case 'jobs':
      case 'outputs': {
        if (sub !== undefined) throw new UsageError(`${command} takes no arguments, got '${sub}' (select with --campaign, --task, --runs, --range, --block)`)
        need(v.campaign, '--campaign')
        const { tasks } = await connect().listTasks({ selector: selectorOf(v) })
        if (command === 'jobs') {
          const rows = jobRows(tasks).filter(r => v.failed !== true || r.state === 'failed')
          if (v.json === true) for (const r of rows) out(JSON.stringify(r))
          else for (const l of jobLines(rows)) out(l)
          return 0
        }
        const rows = outputRows(tasks, v.era)
        if (v.json === true) for (const r of rows) out(JSON.stringify({ ...r, sizeBytes: String(r.sizeBytes) }))
        else for (const l of outputLines(rows)) out(l)
        return 0
      }
      case 'logs': {
        if (sub === undefined || rest.length > 0) throw new UsageError('logs needs one JOB (campaign/block/task/attempt/index, as `autocal jobs` lists it)')
        const tryNo = v.try === undefined ? 1 : Number(v.try)
        if (!Number.isInteger(tryNo) || tryNo < 1) throw new UsageError(`--try: expected a positive integer, got '${v.try ?? ''}'`)
        const tail = v.tail === undefined ? undefined : Number(v.tail)
        if (tail !== undefined && (!Number.isInteger(tail) || tail < 0)) throw new UsageError(`--tail: expected a number of lines, got '${v.tail ?? ''}'`)
        const url = logUrlOf(v.executor ?? nonEmpty(io.env.AUTOCAL_EXECUTOR_URL) ?? 'http://127.0.0.1:8083', sub, tryNo, { ...(tail === undefined ? {} : { tail }), follow: v.follow === true })
        const ac = new AbortController()
        const stop = (): void => { ac.abort() }
        process.once('SIGINT', stop)
        try {
          // a log is text others wrote: neutralised, its own newlines and tabs kept
          await readJobLog(url, readTokenOf(v, io.env), text => {
            io.stdout.write(v.json === true ? terminalText(JSON.stringify({ job: sub, try: tryNo, text })) + '\n' : terminalText(text, { keep: '\t\n' }))
          }, ac.signal)
        } catch (err) {
          if (!ac.signal.aborted) throw err
        } finally {
          process.off('SIGINT', stop)
        }
        return 0
      }
      case 'watch': {
        const stream = connect().watchTasks({ selector: selectorOf(v) })
        await new Promise<void>((resolve, reject) => {
          stream.on('data', (r: { event?: Parameters<typeof toJson<typeof TaskEventSchema>>[1] }) => {
            const e = r.event
            if (e === undefined) return
            if (v.json === true) out(JSON.stringify(toJson(TaskEventSchema, e)))
            else out(`${new Date().toISOString()} ${e.campaign}/${e.block?.id ?? ''}/${e.task} ${taskStateName(e.previousState) ?? ''} → ${taskStateName(e.state) ?? ''} (attempt ${e.attempt}): ${e.reason}`)
          })
          stream.on('error', (err: { code?: number }) => { if (err.code === grpc.status.CANCELLED) resolve(); else reject(err) })
          stream.on('end', () => { resolve() })
          process.once('SIGINT', () => { stream.cancel() })
        })
        return 0
      }
      case 'dlq':
        return await runDlq(sub, rest, { brokers: v.brokers, prefix: v.prefix, topic: v.topic, actor: v.actor, reason: v.reason, all: v.all, json: v.json }, { out, err: errLine, env: io.env })
      case 'conditions':
        return await conditionsCommand(sub, rest, v, io, connect)
      case 'campaign':
        if (sub !== 'replay' || rest.length > 0) throw new UsageError(`unknown campaign command '${[sub, ...rest].join(' ')}' (replay)`)
        return await runCampaignReplay(v, connect, out, progress)
      case 'block':
      case 'gate':
        return await runBlockGate(command, sub, rest, { reason: v.reason, gate: v.gate, json: v.json }, out, connect)
      case 'audit':
        if (sub !== undefined) throw new UsageError(`audit takes no subcommand, got '${sub}' (filters: --since, --principal, --action, --subsystem, --refused)`)
        return await runAudit({ brokers: v.brokers, prefix: v.prefix, since: v.since, principal: v.principal, action: v.action, subsystem: v.subsystem, refused: v.refused, json: v.json }, { out, err: errLine, env: io.env })
      default:
        throw new UsageError(`unknown command '${command}'`)
    }
  } catch (err) {
    errLine(`autocal: ${errorLine(err)}`)
    if (err instanceof UsageError || err instanceof CampaignUsageError || err instanceof ReplayUsageError || err instanceof BlockGateUsageError || err instanceof DlqUsageError || err instanceof InjectUsageError || err instanceof CliConfigError || (err as { code?: string }).code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
      io.stderr.write('run `autocal --help` for usage\n')
      return 2
    }
    return 1
  } finally {
    client?.close()
  }
}

/** `autocal conditions …`: sign-off, promotion, the pending list (gRPC) and the IOV at a run (the uploader's HTTP API). */
async function conditionsCommand (sub: string | undefined, rest: string[], v: Values, io: Io, connect: () => GrpcClient<typeof ControlService>): Promise<number> {
  const { out } = printers(io)
  switch (sub) {
    case 'pending': {
      const res = await connect().listPendingConditions({ campaign: v.campaign ?? '', subsystem: v.subsystem ?? '' })
      if (v.json === true) out(JSON.stringify(toJson(ListPendingConditionsResponseSchema, res)))
      else if (res.conditions.length === 0) out('no condition upload waits for sign-off')
      else for (const c of res.conditions) out(`${c.requestId}  ${c.subsystem}  ${c.tag} (${c.synchronization})  since ${c.since}  payload ${c.payloadHash}${c.destinationDatabase === '' ? '' : `  → ${c.destinationDatabase}`}`)
      return 0
    }
    case 'approve':
    case 'reject': {
      const request = { requestId: need(v.request, '--request'), reason: need(v.reason, '--reason') }
      const c = connect()
      const res = sub === 'approve' ? await c.approveCondition(request) : await c.rejectCondition(request)
      if (v.json === true) out(JSON.stringify({ commandId: res.commandId, payloadHash: res.payloadHash }))
      else out(`${sub === 'approve' ? 'approved' : 'rejected'}: ${request.requestId} payload ${res.payloadHash} (command ${res.commandId})`)
      return 0
    }
    case 'promote': {
      const res = await connect().promoteCondition({ requestId: need(v.request, '--request'), reason: need(v.reason, '--reason'), destinationDatabase: v.database ?? '' })
      if (v.json === true) out(JSON.stringify(toJson(PromoteConditionResponseSchema, res)))
      else out(`promotion requested: ${res.promotionRequestId} payload ${res.payloadHash} to ${v.database ?? "the uploader's default target"} (command ${res.commandId})`)
      return 0
    }
    case 'at': {
      const [tag, runText] = rest
      if (tag === undefined || runText === undefined) throw new UsageError('conditions at needs a TAG and a RUN')
      const problem = nameProblem('tag', tag) ?? (/^\d+$/.test(runText) ? runProblem(Number(runText)) : `run '${runText}' is not a run number`)
      if (problem !== undefined) throw new UsageError(problem)
      const base = (v.uploader ?? io.env.AUTOCAL_UPLOADER_URL ?? 'http://127.0.0.1:8084').replace(/\/+$/, '')
      const url = `${base}/api/v1/tags/${encodeURIComponent(tag)}/iovs?at=${runText}`
      let res: Response
      try {
        const token = readTokenOf(v, io.env)
        res = await fetch(url, { signal: AbortSignal.timeout(30_000), ...(token === undefined ? {} : { headers: { authorization: `Bearer ${token}` } }) })
      } catch (err) {
        throw new Error(`cannot reach the condition-uploader at ${base} (--uploader / AUTOCAL_UPLOADER_URL): ${(err as Error).message}`, { cause: err })
      }
      const body = await res.json().catch(() => ({})) as IovsAnswer
      // 404: no such tag, or no IOV valid at the run; the uploader's own sentence says which
      if (res.status === 404) throw new Error(body.error ?? `${tag} at run ${runText}: the condition-uploader at ${base} knows no such tag or IOV`)
      if (!res.ok) throw new Error(`${url}: HTTP ${res.status}${body.error === undefined ? '' : `: ${body.error}`}`)
      const iov = iovAt(body, Number(runText))
      if ('problem' in iov) throw new Error(`${tag} at run ${runText}: ${iov.problem}`)
      if (v.json === true) out(JSON.stringify({ tag, run: Number(runText), timeType: body.timeType ?? '', ...iov }))
      else out(`${tag} at run ${runText}: IOV since ${iov.since}${iov.sinceText === undefined || iov.sinceText === iov.since ? '' : ` (${iov.sinceText})`}, payload ${iov.payloadHash}`)
      return 0
    }
    case undefined:
    default:
      throw new UsageError(`unknown conditions command '${sub ?? ''}' (pending, approve, reject, promote, at)`)
  }
}

interface IovJson { since: string, sinceText?: string, payloadHash: string, insertionTime?: string }
interface IovsAnswer { tag?: string, timeType?: string, error?: string, iov?: IovJson | null, iovs?: IovJson[] }

/**
 * The IOV valid at a run from the uploader's answer to `GET /api/v1/tags/:tag/iovs?at=RUN`:
 * its `iov` when it gives one; otherwise (an uploader that lists every IOV) the IOV with
 * the greatest since at or before the run: the run itself for a Run tag,
 * `(run << 32) | 1` (its first lumisection) for a Lumi tag. A Time tag needs the
 * uploader's own answer (a run's start time is not known here).
 */
export function iovAt (answer: IovsAnswer, run: number): IovJson | { problem: string } {
  if (answer.iov !== undefined) return answer.iov === null ? { problem: 'no IOV covers this run' } : answer.iov
  const timeType = answer.timeType ?? 'Run'
  if (timeType !== 'Run' && timeType !== 'Lumi') return { problem: `the uploader gave no IOV for the run, and a ${timeType} tag's sinces are not runs` }
  const at = timeType === 'Lumi' ? (BigInt(run) << 32n) | 1n : BigInt(run)
  let best: IovJson | undefined
  for (const i of answer.iovs ?? []) if (BigInt(i.since) <= at && (best === undefined || BigInt(i.since) > BigInt(best.since))) best = i
  return best ?? { problem: 'no IOV covers this run (every since is later)' }
}

/** Per failed task (`<block id>/<task>`), its failed jobs: "job 0 try 3: exit code 3 …, log <link>". */
export function failedJobLinks (tasks: readonly TaskEvent[]): Map<string, string[]> {
  return new Map(tasks.map(t => [`${t.block?.id ?? ''}/${t.task}`, t.jobs.filter(j => j.state === JobState.FAILED).map(j => `job ${j.index} try ${j.try}${j.logUrl === '' ? '' : `: log ${j.logUrl}`}`)]))
}

/**
 * Follows the selected tasks after a command (wait-progress.ts decides):
 * shows the progress (wait-display.ts: a bar, or the line when it changes), returns 0 once they have
 * settled (saying which are blocked on a failed upstream), 3 when
 * `timeoutMs` passes first (saying what is still unsettled).
 */
async function waitSettled (c: GrpcClient<typeof ControlService>, selector: SelectorInit, before: Map<string, string>, display: WaitDisplay, timeoutMs: number | undefined): Promise<number> {
  const started = Date.now()
  for (;;) {
    await delay(500)
    const s = await c.getStatus({ selector })
    const verdict = waitVerdict(s.cells, before, Date.now() - started)
    display.update(verdict)
    if (verdict.settled) {
      display.finish(verdict.blocked.length === 0 ? 'settled' : `settled: ${verdict.blocked.length} task(s) blocked, they cannot go on until their upstream is reprocessed:`)
      for (const b of verdict.blocked.slice(0, 20)) display.finish(`  ${b}`)
      if (verdict.blocked.length > 20) display.finish(`  … and ${verdict.blocked.length - 20} more`)
      return 0
    }
    if (timeoutMs !== undefined && Date.now() - started >= timeoutMs) {
      display.finish(`autocal: timed out after ${Math.round(timeoutMs / 1000)} s, not settled: ${verdict.line}`)
      return 3
    }
  }
}

async function snapshot (c: GrpcClient<typeof ControlService>, selector: SelectorInit): Promise<Map<string, string>> {
  const s = await c.getStatus({ selector })
  return new Map(s.cells.map(x => [cellKey(x), cellVersion(x)]))
}
