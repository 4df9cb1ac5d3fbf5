// STAND-IN for the Kubernetes API server: only the paths the kubernetes
// backend uses, with the API's JSON shapes (Job, PodList, Status errors).
// There is no kubelet or job controller: the test plays them through
// `setJobStatus` / `setPods` / `setLog`, and injects API errors with `failNext`.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import { once } from 'node:events'
import { randomUUID } from 'node:crypto'

interface Stored { job: any, pods: any[], log: string }

export interface KubeStandIn extends AsyncDisposable {
  url: string
  token: string
  jobs: Map<string, Stored>
  requests: Array<{ method: string, path: string }>
  setJobStatus: (name: string, status: object) => void
  setPods: (name: string, pods: Array<{ status: object }>) => void
  setLog: (name: string, log: string) => void
  /** The next request matching method and path prefix answers this HTTP error. */
  failNext: (method: string, pathPrefix: string, code: number, reason: string) => void
}

const status = (code: number, reason: string, message: string) => ({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code })

export async function startKubeStandIn (): Promise<KubeStandIn> {
  const token = `standin-${randomUUID()}`
  const jobs = new Map<string, Stored>()
  const requests: Array<{ method: string, path: string }> = []
  const faults: Array<{ method: string, prefix: string, code: number, reason: string }> = []
  const send = (res: ServerResponse, code: number, body: unknown, type = 'application/json'): void => {
    res.writeHead(code, { 'content-type': type })
    res.end(typeof body === 'string' ? body : JSON.stringify(body))
  }
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://standin')
      const method = req.method ?? 'GET'
      requests.push({ method, path: url.pathname })
      if (req.headers.authorization !== `Bearer ${token}`) return send(res, 401, status(401, 'Unauthorized', 'Unauthorized'))
      const fault = faults.findIndex(f => f.method === method && url.pathname.startsWith(f.prefix))
      if (fault >= 0) {
        const [f] = faults.splice(fault, 1)
        return send(res, f!.code, status(f!.code, f!.reason, `stand-in injected ${f!.reason}`))
      }
      let m: RegExpExecArray | null
      if (method === 'POST' && (m = /^\/apis\/batch\/v1\/namespaces\/([^/]+)\/jobs$/.exec(url.pathname)) !== null) {
        const job = JSON.parse(Buffer.concat(chunks).toString('utf8'))
        const name = job.metadata?.name as string
        if (jobs.has(name)) return send(res, 409, status(409, 'AlreadyExists', `jobs.batch "${name}" already exists`))
        job.metadata = { ...job.metadata, namespace: m[1], uid: randomUUID(), creationTimestamp: new Date().toISOString() }
        job.status = {}
        jobs.set(name, { job, pods: [], log: '' })
        return send(res, 201, job)
      }
      if ((m = /^\/apis\/batch\/v1\/namespaces\/([^/]+)\/jobs\/([^/]+)(\/status)?$/.exec(url.pathname)) !== null) {
        const stored = jobs.get(m[2]!)
        if (stored === undefined) return send(res, 404, status(404, 'NotFound', `jobs.batch "${m[2]}" not found`))
        if (method === 'GET') return send(res, 200, stored.job)
        if (method === 'DELETE') {
          jobs.delete(m[2]!)
          return send(res, 200, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', details: { name: m[2], group: 'batch', kind: 'jobs', uid: stored.job.metadata.uid } })
        }
      }
      if (method === 'GET' && (m = /^\/api\/v1\/namespaces\/([^/]+)\/pods$/.exec(url.pathname)) !== null) {
        const selector = /^job-name=(.+)$/.exec(url.searchParams.get('labelSelector') ?? '')
        const pods = selector === null ? [] : jobs.get(selector[1]!)?.pods ?? []
        return send(res, 200, { kind: 'PodList', apiVersion: 'v1', metadata: { resourceVersion: '1' }, items: pods })
      }
      if (method === 'GET' && (m = /^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/]+)\/log$/.exec(url.pathname)) !== null) {
        for (const s of jobs.values()) if (s.pods.some(p => p.metadata.name === m![2])) return send(res, 200, s.log, 'text/plain')
        return send(res, 404, status(404, 'NotFound', `pods "${m[2]}" not found`))
      }
      send(res, 404, status(404, 'NotFound', `the server could not find the requested resource (stand-in: ${method} ${url.pathname})`))
    })
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const address = server.address()
  const port = typeof address === 'object' && address !== null ? address.port : 0
  return {
    url: `http://127.0.0.1:${port}`,
    token,
    jobs,
    requests,
    setJobStatus: (name, s) => { jobs.get(name)!.job.status = s },
    setPods: (name, pods) => {
      jobs.get(name)!.pods = pods.map((p, i) => ({ kind: 'Pod', apiVersion: 'v1', metadata: { name: `${name}-${i}`, labels: { 'job-name': name } }, ...p }))
    },
    setLog: (name, log) => { jobs.get(name)!.log = log },
    failNext: (method, prefix, code, reason) => { faults.push({ method, prefix, code, reason }) },
    [Symbol.asyncDispose]: async () => { server.closeAllConnections(); server.close() }
  }
}
