// The kubernetes backend: one batch/v1 Job per job through @kubernetes/client-node;
// its state polled from the Job's status and its pods, logs from the pod, a
// delete (background propagation) on cancel.
import { BatchV1Api, CoreV1Api, KubeConfig, type V1Job } from '@kubernetes/client-node'
import { kubeState, type BatchState, type KubePodStatus } from '../domain/batch-state.ts'
import { kubeJobManifest, kubeJobName, type KubeJobSpec } from '../domain/kube-job.ts'

export interface KubeOptions {
  namespace: string
  /** API server URL and bearer token; the default kubeconfig (in-cluster or ~/.kube/config) when unset. */
  server?: string | undefined
  token?: string | undefined
}

const statusCode = (err: unknown): number | undefined => (err as { code?: number }).code

function describe (err: unknown, what: string): Error {
  const body = (err as { body?: unknown }).body
  let message = (err as Error).message
  if (typeof body === 'string') {
    try { message = (JSON.parse(body) as { message?: string }).message ?? message } catch {}
  }
  return new Error(`kubernetes ${what} failed (HTTP ${statusCode(err) ?? '?'}): ${message}`, { cause: err })
}

export function createKubeBackend (o: KubeOptions) {
  const kc = new KubeConfig()
  if (o.server === undefined) kc.loadFromDefault()
  else {
    kc.loadFromOptions({
      // client-node refuses http:// unless TLS verification is off (there is no TLS to verify)
      clusters: [{ name: 'autocal', server: o.server, skipTLSVerify: o.server.startsWith('http://') }],
      users: [{ name: 'autocal', ...(o.token === undefined ? {} : { token: o.token }) }],
      contexts: [{ name: 'autocal', cluster: 'autocal', user: 'autocal', namespace: o.namespace }],
      currentContext: 'autocal'
    })
  }
  const batch = kc.makeApiClient(BatchV1Api)
  const core = kc.makeApiClient(CoreV1Api)
  const namespace = o.namespace

  return {
    /** Creates the Job: its name. An existing Job of the same job id and try is taken as ours (redelivery). */
    submit: async (spec: KubeJobSpec): Promise<string> => {
      const body = kubeJobManifest(spec) as V1Job
      try {
        await batch.createNamespacedJob({ namespace, body })
      } catch (err) {
        if (statusCode(err) !== 409) throw describe(err, `create job ${body.metadata!.name!}`)
      }
      return body.metadata!.name!
    },
    /** undefined when the Job does not exist (deleted, or never created). */
    state: async (name: string): Promise<BatchState | undefined> => {
      let job: V1Job
      try {
        job = await batch.readNamespacedJobStatus({ name, namespace })
      } catch (err) {
        if (statusCode(err) === 404) return undefined
        throw describe(err, `read job ${name}`)
      }
      let pods: KubePodStatus[] = []
      try {
        const list = await core.listNamespacedPod({ namespace, labelSelector: `job-name=${name}` })
        pods = list.items.map(p => (p.status ?? {}) as KubePodStatus)
      } catch (err) {
        throw describe(err, `list pods of job ${name}`)
      }
      return kubeState(job.status ?? {}, pods)
    },
    logs: async (name: string): Promise<string> => {
      try {
        const list = await core.listNamespacedPod({ namespace, labelSelector: `job-name=${name}` })
        const pod = list.items.at(-1)?.metadata?.name
        if (pod === undefined) return ''
        return await core.readNamespacedPodLog({ name: pod, namespace, container: 'job' })
      } catch (err) {
        throw describe(err, `logs of job ${name}`)
      }
    },
    /** The Job's name when the Job of (job id, try) exists: looked up before any resubmission. */
    find: async (jobId: string, attempt: number): Promise<string | undefined> => {
      const name = kubeJobName(jobId, attempt)
      try {
        await batch.readNamespacedJobStatus({ name, namespace })
        return name
      } catch (err) {
        if (statusCode(err) === 404) return undefined
        throw describe(err, `read job ${name}`)
      }
    },
    cancel: async (name: string): Promise<void> => {
      try {
        await batch.deleteNamespacedJob({ name, namespace, propagationPolicy: 'Background' })
      } catch (err) {
        if (statusCode(err) !== 404) throw describe(err, `delete job ${name}`)
      }
    },
    /**
     * Whether the Kubernetes API answers: reads a Job that does not exist (the
     * executor's own "get jobs" right); a 404 is an answer. Throws on a network
     * error, a 5xx, or a refusal (401/403: the token no longer works).
     */
    probe: async (): Promise<void> => {
      try {
        await batch.readNamespacedJobStatus({ name: 'autocal-backend-probe', namespace })
      } catch (err) {
        if (statusCode(err) !== 404) throw describe(err, 'probe of the Kubernetes API')
      }
    },
    nameOf: kubeJobName
  }
}

export type KubeBackend = ReturnType<typeof createKubeBackend>
