// The batch/v1 Job manifest of one autocal job. Pure. The pod holds no
// credentials and no privileges: its own ServiceAccount without an automounted
// token, non-root, no privilege escalation, every capability dropped, the
// runtime's default seccomp profile (the Kubernetes "restricted" Pod Security
// Standard).
import { createHash } from 'node:crypto'

export interface KubeJobSpec {
  jobId: string
  try: number
  image: string
  argv: string[]
  env: Record<string, string>
  cpus: number
  memoryMb: number
  timeoutS: number
  campaign: string
  block: string
  task: string
  jobIndex: number
  /** The pods' own ServiceAccount (no rights; its token is not mounted). */
  serviceAccount: string
  /** uid and gid of the job container (never 0). */
  runAsUser: number
}

/** A DNS-1123 name from the job id and try (job ids contain '/'). */
export const kubeJobName = (jobId: string, attempt: number): string =>
  `autocal-${createHash('sha256').update(`${jobId}#${attempt}`).digest('hex').slice(0, 16)}`

/** A label value: at most 63 characters of [A-Za-z0-9._-], alphanumeric at both ends. */
export const labelValue = (s: string): string => s.replace(/[^A-Za-z0-9._-]+/g, '_').slice(0, 63).replace(/^[^A-Za-z0-9]+|[^A-Za-z0-9]+$/g, '')

export function kubeJobManifest (s: KubeJobSpec) {
  const name = kubeJobName(s.jobId, s.try)
  const labels = {
    'app.kubernetes.io/managed-by': 'autocal-job-executor',
    'autocal.cern.ch/campaign': labelValue(s.campaign),
    'autocal.cern.ch/block': labelValue(s.block),
    'autocal.cern.ch/task': labelValue(s.task),
    'autocal.cern.ch/job-index': String(s.jobIndex),
    'autocal.cern.ch/try': String(s.try)
  }
  const resources = {
    ...(s.cpus > 0 || s.memoryMb > 0
      ? {
          requests: { ...(s.cpus > 0 ? { cpu: String(s.cpus) } : {}), ...(s.memoryMb > 0 ? { memory: `${s.memoryMb}Mi` } : {}) },
          limits: { ...(s.memoryMb > 0 ? { memory: `${s.memoryMb}Mi` } : {}) }
        }
      : {})
  }
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name, labels, annotations: { 'autocal.cern.ch/job-id': s.jobId } },
    spec: {
      backoffLimit: 0, // retries are the dispatcher's, with a new try
      ...(s.timeoutS > 0 ? { activeDeadlineSeconds: s.timeoutS } : {}),
      ttlSecondsAfterFinished: 86400,
      template: {
        metadata: { labels },
        spec: {
          restartPolicy: 'Never',
          serviceAccountName: s.serviceAccount,
          automountServiceAccountToken: false,
          securityContext: {
            runAsNonRoot: true,
            runAsUser: s.runAsUser,
            runAsGroup: s.runAsUser,
            seccompProfile: { type: 'RuntimeDefault' }
          },
          containers: [{
            name: 'job',
            image: s.image,
            command: s.argv.slice(0, 1),
            args: s.argv.slice(1),
            env: Object.entries(s.env).map(([n, value]) => ({ name: n, value })),
            resources,
            securityContext: {
              runAsNonRoot: true,
              allowPrivilegeEscalation: false,
              privileged: false,
              capabilities: { drop: ['ALL'] },
              seccompProfile: { type: 'RuntimeDefault' }
            }
          }]
        }
      }
    }
  }
}
