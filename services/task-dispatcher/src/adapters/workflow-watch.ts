// Workflow hot reload: the workflow directory is watched (fs.watch: inotify
// on Linux; a ConfigMap update swaps its `..data` link, which is a change of
// the directory too), and a change is loaded after it settled. Valid files
// replace the live catalog in place (domain/catalog.ts replaceCatalog): new
// plans take the new definitions and version, tasks already planned keep the
// version they were planned with. Files that do not validate change nothing
// (the error names file and line, as at start). Unfinished tasks whose
// definition disappeared are reported as orphaned; they can be cancelled.
import { statSync, watch, type FSWatcher } from 'node:fs'
import { basename, dirname, resolve } from 'node:path'
import type { Logger } from '@autocal/runtime'
import { buildCatalog, orphanedTasks, replaceCatalog, type Catalog, type OrphanedTask } from '../domain/catalog.ts'
import { loadWorkflows } from './workflow-files.ts'
import type { Env } from '../domain/workflow.ts'
import type { StateStore } from './state-store.ts'

export type ReloadResult =
  | { kind: 'unchanged' }
  | { kind: 'refused', errors: string[] }
  | { kind: 'reloaded', workflows: string[], orphaned: OrphanedTask[] }

export interface WorkflowWatchDeps {
  dir: string
  env: Env
  /** The live catalog every part of the dispatcher holds: changed in place. */
  catalog: Catalog
  /** Certified runs per golden JSON path, as the planner and the control API hold them: changed in place. */
  golden: Map<string, Set<number>>
  store: Pick<StateStore, 'taskKeys' | 'getTasks'>
  logger: Logger
  /** Quiet time after the last file event before the directory is loaded (ms, default 300): an editor's save is several events. */
  settleMs?: number
}

/** `<subsystem>/<workflow>@<version>` of each loaded workflow, sorted: what a reload compares. */
function versionsOf (catalog: Pick<Catalog, 'workflows'>): string[] {
  return catalog.workflows.map(w => `${w.subsystem}/${w.workflow}@${w.branch === '' ? '' : `${w.branch}:`}${w.version}`).sort()
}

/**
 * Loads the workflow directory again and, when it validates and differs,
 * puts it into the live catalog and golden runs; then finds the orphaned
 * tasks of every campaign known before or after. Never throws for bad files
 * or a missing or unreadable directory (they are `refused`, with the error
 * naming the path); a Redis error while looking for orphans is thrown.
 */
export async function reloadWorkflows (deps: Omit<WorkflowWatchDeps, 'settleMs'>): Promise<ReloadResult> {
  const log = deps.logger.child({ component: 'workflow-reload' })
  let loaded: ReturnType<typeof loadWorkflows>
  try {
    loaded = loadWorkflows(deps.dir, deps.env)
  } catch (err) {
    // the directory is gone or unreadable (readWorkflowSources names it): refused like a bad file
    loaded = { workflows: [], errors: [(err as Error).message], golden: new Map(), dir: deps.dir }
  }
  if (loaded.errors.length > 0) {
    log.error({ dir: deps.dir, errors: loaded.errors }, 'workflow change refused: the workflows stay as they were')
    return { kind: 'refused', errors: loaded.errors }
  }
  // the runtime campaigns (autocal.campaigns.v1) stay overlaid on the new files
  const next = buildCatalog(loaded.workflows, deps.catalog.runtime.values())
  if (versionsOf(next).join(' ') === versionsOf(deps.catalog).join(' ')) return { kind: 'unchanged' }
  const campaigns = new Set([...deps.catalog.campaigns.keys(), ...next.campaigns.keys()])
  replaceCatalog(deps.catalog, next)
  deps.golden.clear()
  for (const [path, runs] of loaded.golden) deps.golden.set(path, runs)
  const workflows = versionsOf(next)
  log.info({ dir: deps.dir, workflows, campaigns: [...next.campaigns.keys()] }, 'workflows reloaded')
  const orphaned: OrphanedTask[] = []
  for (const c of campaigns) orphaned.push(...orphanedTasks(await deps.store.getTasks(await deps.store.taskKeys(c)), deps.catalog))
  if (orphaned.length > 0) {
    log.warn({ orphaned: orphaned.map(o => `${o.campaign}/${o.blockId}/${o.task} (${o.state}, planned with ${o.workflowBranch === '' ? '' : `${o.workflowBranch}:`}${o.workflowVersion})`) },
      'tasks orphaned: no loaded workflow defines them any more; cancel them (autocal cancel --campaign C --task T)')
  }
  return { kind: 'reloaded', workflows, orphaned }
}

/** `<device>:<inode>` of the directory `path` names now (links followed), or undefined when there is none. */
function identityOf (path: string): string | undefined {
  try {
    const st = statSync(path)
    return st.isDirectory() ? `${st.dev}:${st.ino}` : undefined
  } catch {
    return undefined
  }
}

/**
 * Watches the workflow directory and reloads it (reloadWorkflows) once file
 * events settled. Its parent directory is watched too, for the path itself:
 * when `dir` names another directory than before (a link swapped to a new
 * release, a directory removed and made again; fs.watch would keep watching
 * the old one and miss every later change), the watch moves to the new one,
 * logged, and the directory is reloaded. `onReload` sees each result (tests,
 * metrics). Dispose to stop watching; a reload in progress finishes.
 */
export function watchWorkflows (deps: WorkflowWatchDeps, onReload: (r: ReloadResult) => void = () => {}): Disposable {
  const log = deps.logger.child({ component: 'workflow-reload' })
  let timer: NodeJS.Timeout | undefined
  let running = Promise.resolve()
  let watched = identityOf(deps.dir)
  let watcher: FSWatcher | undefined
  const schedule = (): void => {
    clearTimeout(timer)
    timer = setTimeout(() => {
      running = running.then(async () => {
        const now = identityOf(deps.dir)
        if (now !== watched) {
          watcher?.close()
          watcher = now === undefined ? undefined : watchDir()
          if (now === undefined) log.warn({ dir: deps.dir }, 'workflow directory is gone: the workflows stay as they were until it is back')
          else log.info({ dir: deps.dir }, 'workflow directory replaced (a link or the directory itself): watching the new one')
          watched = now
        }
        onReload(await reloadWorkflows(deps))
      }).catch((err: unknown) => { log.error({ err }, 'workflow reload failed; the workflows stay as they were') })
    }, deps.settleMs ?? 300)
  }
  const watchDir = (): FSWatcher | undefined => {
    try {
      const w = watch(deps.dir, schedule)
      w.on('error', (err) => { log.error({ err, dir: deps.dir }, 'workflow directory no longer watched') })
      return w
    } catch (err) {
      log.error({ err, dir: deps.dir }, 'workflow directory cannot be watched')
      return undefined
    }
  }
  watcher = watchDir()
  const name = basename(deps.dir)
  const parent = watch(dirname(resolve(deps.dir)), (_event, file) => { if (file === null || file === name) schedule() })
  parent.on('error', (err) => { log.error({ err, dir: dirname(deps.dir) }, 'parent of the workflow directory no longer watched') })
  return { [Symbol.dispose]: () => { clearTimeout(timer); watcher?.close(); parent.close() } }
}
