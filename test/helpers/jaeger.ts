// A real Jaeger (v2, built from its Go module by deploy/local/jaeger.sh) for
// tests: started on free loopback ports with deploy/local/jaeger.yaml
// (OTLP/HTTP in, in-memory store), read back through Jaeger's own query API
// (`/api/services`, `/api/traces`), the API its UI uses.
import { spawn, spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { setTimeout as delay } from 'node:timers/promises'
import { freePort } from './free-port.ts'

const repoRoot = new URL('../..', import.meta.url).pathname

/** One span as Jaeger's query API returns it, with its service resolved. */
export interface JaegerSpan {
  traceId: string
  spanId: string
  /** Span id of the CHILD_OF reference; '' for a root span. */
  parentSpanId: string
  operationName: string
  service: string
  tags: Record<string, unknown>
  /** Microseconds since the epoch. */
  startTime: number
}

export interface JaegerTrace { traceId: string, spans: JaegerSpan[] }

export interface Jaeger extends AsyncDisposable {
  /** Where services send spans (AUTOCAL_OTLP_ENDPOINT), e.g. http://127.0.0.1:43123/v1/traces */
  otlpUrl: string
  /** UI and query API base, e.g. http://127.0.0.1:43124 */
  queryUrl: string
  /** Services Jaeger has spans of. */
  services: () => Promise<string[]>
  /** Traces with a span of `service` (at most `limit`, newest first), each with every span of the trace. */
  traces: (service: string, limit?: number) => Promise<JaegerTrace[]>
  /** One whole trace by id. */
  trace: (traceId: string) => Promise<JaegerTrace>
}

/** Path of the Jaeger binary: $AUTOCAL_JAEGER_BIN, else built (once) by deploy/local/jaeger.sh. */
export function jaegerBinary (): string {
  if (process.env.AUTOCAL_JAEGER_BIN !== undefined && process.env.AUTOCAL_JAEGER_BIN !== '') return process.env.AUTOCAL_JAEGER_BIN
  const out = spawnSync('bash', [join(repoRoot, 'deploy/local/jaeger.sh'), 'path'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] })
  if (out.status !== 0) throw new Error(`deploy/local/jaeger.sh path failed (exit ${out.status})`)
  return out.stdout.trim()
}

interface ApiSpan {
  traceID: string
  spanID: string
  operationName: string
  processID: string
  startTime: number
  references?: Array<{ refType: string, spanID: string }>
  tags?: Array<{ key: string, value: unknown }>
}
interface ApiTrace { traceID: string, spans: ApiSpan[], processes: Record<string, { serviceName: string }> }

function traceOf (t: ApiTrace): JaegerTrace {
  return {
    traceId: t.traceID,
    spans: t.spans.map(s => ({
      traceId: s.traceID,
      spanId: s.spanID,
      parentSpanId: s.references?.find(r => r.refType === 'CHILD_OF')?.spanID ?? '',
      operationName: s.operationName,
      service: t.processes[s.processID]?.serviceName ?? '',
      tags: Object.fromEntries((s.tags ?? []).map(tag => [tag.key, tag.value])),
      startTime: s.startTime
    }))
  }
}

/** Starts Jaeger on free loopback ports; stops it on dispose. Throws when it is not ready within 30 s. */
export async function startJaeger (): Promise<Jaeger> {
  const bin = jaegerBinary()
  const [otlp, query, queryGrpc, health] = [await freePort(), await freePort(), await freePort(), await freePort()]
  const child = spawn(bin, ['--config', join(repoRoot, 'deploy/local/jaeger.yaml')], {
    env: {
      ...process.env,
      JAEGER_OTLP_HTTP_PORT: String(otlp),
      JAEGER_QUERY_PORT: String(query),
      JAEGER_QUERY_GRPC_PORT: String(queryGrpc),
      JAEGER_HEALTH_PORT: String(health)
    },
    stdio: ['ignore', 'ignore', 'pipe']
  })
  let stderr = ''
  child.stderr!.on('data', (c: Buffer) => { stderr = (stderr + c.toString('utf8')).slice(-4000) })
  const deadline = Date.now() + 30_000
  for (;;) {
    if (child.exitCode !== null) throw new Error(`jaeger exited with ${child.exitCode}: ${stderr}`)
    const ok = await fetch(`http://127.0.0.1:${health}/status`).then(r => r.ok, () => false)
    if (ok) break
    if (Date.now() > deadline) { child.kill('SIGKILL'); throw new Error(`jaeger not ready after 30 s: ${stderr}`) }
    await delay(200)
  }
  const queryUrl = `http://127.0.0.1:${query}`
  const api = async <T>(path: string): Promise<T> => {
    const res = await fetch(`${queryUrl}${path}`)
    if (!res.ok) throw new Error(`jaeger ${path}: ${res.status} ${await res.text()}`)
    return ((await res.json()) as { data: T }).data
  }
  return {
    otlpUrl: `http://127.0.0.1:${otlp}/v1/traces`,
    queryUrl,
    services: async () => (await api<string[] | null>('/api/services')) ?? [],
    traces: async (service, limit = 1000) => ((await api<ApiTrace[] | null>(`/api/traces?service=${encodeURIComponent(service)}&limit=${limit}&lookback=custom&start=0`)) ?? []).map(traceOf),
    trace: async traceId => {
      const [t] = (await api<ApiTrace[]>(`/api/traces/${traceId}`))
      if (t === undefined) throw new Error(`jaeger has no trace ${traceId}`)
      return traceOf(t)
    },
    [Symbol.asyncDispose]: async () => {
      if (child.exitCode !== null) return
      child.kill('SIGTERM')
      await new Promise(resolve => child.once('exit', resolve))
    }
  }
}
