// Whether this executor reaches its backends, as the gauge
// autocal_backend_up{backend} (1 = reached, 0 = not): the HTCondor schedd and
// the Kubernetes API are probed (a query that matches nothing), the agent
// backend is up while at least one agent is connected. The original
// framework's unseen failure was the batch connection silently down while
// requests queued; the alert AutocalBackendUnreachable
// (deploy/prometheus/autocal-alerts.yaml) fires on this gauge.
import type { Gauge } from 'prom-client'
import type { Logger } from '@autocal/runtime'

/** A probe resolves when its backend answers and throws (with the cause) when it cannot be reached. */
export type BackendProbe = () => Promise<void>

export interface BackendHealth {
  /** Probes every backend once (a backend whose previous probe is still running is skipped). */
  probeAll: () => Promise<void>
  stop: () => void
}

/**
 * Probes each backend of `probes` (by backend name: htcondor, kubernetes,
 * agent) at once and every `intervalMs`, setting `gauge{backend}` to 1 or 0.
 * A change is logged: a backend going down with the probe's error (warn),
 * coming back (info).
 */
export function startBackendProbes (o: { probes: Record<string, BackendProbe>, gauge: Gauge<'backend'>, intervalMs: number, logger: Logger }): BackendHealth {
  const log = o.logger.child({ component: 'backend-health' })
  const running = new Set<string>()
  const last = new Map<string, boolean>()
  async function probe (backend: string, check: BackendProbe): Promise<void> {
    if (running.has(backend)) return
    running.add(backend)
    let up = true
    let err: unknown
    try {
      await check()
    } catch (e) {
      up = false
      err = e
    } finally {
      running.delete(backend)
    }
    o.gauge.set({ backend }, up ? 1 : 0)
    if (last.get(backend) !== up) {
      if (up) log.info({ backend }, 'backend reachable')
      else log.warn({ backend, err }, 'backend unreachable')
    }
    last.set(backend, up)
  }
  const probeAll = async (): Promise<void> => { await Promise.all(Object.entries(o.probes).map(async ([b, c]) => { await probe(b, c) })) }
  void probeAll()
  const tick = setInterval(() => { void probeAll() }, o.intervalMs)
  tick.unref()
  return { probeAll, stop: () => { clearInterval(tick) } }
}
