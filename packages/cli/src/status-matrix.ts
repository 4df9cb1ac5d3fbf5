// The runs × tasks matrix of `autocal status`, as terminal text.
import { TaskState, taskStateName, type GetStatusResponse } from '@autocal/contracts'
import { terminalText } from './terminal-text.ts'

const symbols: Record<number, string> = {
  [TaskState.UNSPECIFIED]: '?',
  [TaskState.NEW]: '·',
  [TaskState.WAITING]: 'w',
  [TaskState.PROCESSING]: '▶',
  [TaskState.DONE]: '✓',
  [TaskState.FAILED]: '✗',
  [TaskState.SKIPPED]: 's',
  [TaskState.CANCELLED]: 'c',
  [TaskState.AWAITING_SIGNOFF]: 'a'
}
const colours: Record<number, string> = {
  [TaskState.WAITING]: '33',
  [TaskState.PROCESSING]: '36',
  [TaskState.DONE]: '32',
  [TaskState.FAILED]: '31',
  [TaskState.SKIPPED]: '90',
  [TaskState.CANCELLED]: '90',
  [TaskState.AWAITING_SIGNOFF]: '35'
}

/**
 * Renders the matrix: one row per run, one column per task; a cell is the
 * state symbol plus the attempt when > 1. Text from the server (campaign,
 * task names, reasons) is neutralised by terminalText; the only control
 * sequences in the result are its own colours (with `colour`). Below the
 * counts: the failed tasks with their reasons and, from `failedJobs` (by
 * `<block id>/<task>`), their failed jobs' log links; then what each waiting
 * task waits for. Blocks of several runs are listed once, by their first run.
 */
export function renderMatrix (status: GetStatusResponse, options: { colour?: boolean, failedJobs?: ReadonlyMap<string, string[]> } = {}): string {
  const cells = new Map(status.cells.map(c => [`${c.run}/${c.task}`, c]))
  const shown = new Map(status.tasks.map(t => [t, terminalText(t)]))
  const widths = status.tasks.map(t => Math.max([...shown.get(t) ?? t].length, 3))
  const pad = (s: string, n: number): string => s + ' '.repeat(Math.max(0, n - [...s].length))
  const lines = [`campaign ${terminalText(status.campaign)}: ${status.runs.length} runs × ${status.tasks.length} tasks`]
  lines.push(pad('run', 8) + status.tasks.map((t, i) => pad(shown.get(t) ?? t, (widths[i] as number) + 2)).join(''))
  for (const run of status.runs) {
    let line = pad(String(run), 8)
    status.tasks.forEach((t, i) => {
      const c = cells.get(`${run}/${t}`)
      let text = c === undefined ? ' ' : (symbols[c.state] ?? '?') + (c.attempt > 1 ? String(c.attempt) : '')
      const width = (widths[i] as number) + 2
      const padded = pad(text, width)
      text = options.colour === true && c !== undefined && colours[c.state] !== undefined ? `\u001b[${colours[c.state] as string}m${padded}\u001b[0m` : padded
      line += text
    })
    lines.push(line.trimEnd())
  }
  const counts = new Map<number, number>()
  for (const c of status.cells) counts.set(c.state, (counts.get(c.state) ?? 0) + 1)
  lines.push('')
  lines.push([...counts].sort((a, b) => a[0] - b[0]).map(([s, n]) => `${symbols[s] ?? '?'} ${taskStateName(s) ?? s} ${n}`).join('   ') || 'no tasks yet')
  const once = (state: number): typeof status.cells => [...new Map(status.cells.filter(c => c.state === state).map(c => [`${c.blockId}/${c.task}`, c])).values()]
  const failed = once(TaskState.FAILED)
  for (const c of failed.slice(0, 10)) {
    lines.push(`✗ ${c.run} ${terminalText(`${c.task} (${c.blockId}, attempt ${c.attempt}): ${c.reason}`)}`)
    for (const j of options.failedJobs?.get(`${c.blockId}/${c.task}`) ?? []) lines.push(`    ${terminalText(j)}`)
  }
  if (failed.length > 10) lines.push(`… and ${failed.length - 10} more failed`)
  const waiting = once(TaskState.WAITING).filter(c => c.waitingFor !== '')
  for (const c of waiting.slice(0, 10)) lines.push(`w ${c.run} ${terminalText(`${c.task} (${c.blockId}) waits: ${c.waitingFor}`)}`)
  if (waiting.length > 10) lines.push(`… and ${waiting.length - 10} more waiting`)
  return lines.join('\n')
}
