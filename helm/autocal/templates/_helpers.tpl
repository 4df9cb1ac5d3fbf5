{{/* Common names and labels. */}}
{{- define "autocal.fullname" -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "autocal.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{/* Environment every service gets. */}}
{{- define "autocal.commonEnv" -}}
- name: AUTOCAL_KAFKA_BROKERS
  value: {{ .Values.kafka.brokers | quote }}
- name: AUTOCAL_KAFKA_TOPIC_PREFIX
  value: {{ .Values.kafka.topicPrefix | quote }}
- name: AUTOCAL_KAFKA_CREATE_TOPICS
  value: {{ .Values.kafka.createTopics | quote }}
{{- with .Values.kafka.topics }}
{{- if and (not (kindIs "invalid" .replicationFactor)) (not (kindIs "invalid" .minInsyncReplicas)) }}
{{- if gt (int .minInsyncReplicas) (int .replicationFactor) }}
{{- fail (printf "kafka.topics.minInsyncReplicas (%v) is above kafka.topics.replicationFactor (%v): no write could be acknowledged" .minInsyncReplicas .replicationFactor) }}
{{- end }}
{{- end }}
{{- if not (kindIs "invalid" .replicationFactor) }}
- name: AUTOCAL_KAFKA_REPLICATION_FACTOR
  value: {{ .replicationFactor | quote }}
{{- end }}
{{- if not (kindIs "invalid" .minInsyncReplicas) }}
- name: AUTOCAL_KAFKA_MIN_INSYNC_REPLICAS
  value: {{ .minInsyncReplicas | quote }}
{{- end }}
{{- if not (kindIs "invalid" .rebuildRetentionMs) }}
- name: AUTOCAL_KAFKA_REBUILD_RETENTION_MS
  value: {{ .rebuildRetentionMs | int64 | quote }}
{{- end }}
{{- end }}
- name: AUTOCAL_REDIS_URL
  value: {{ .Values.redis.url | quote }}
- name: AUTOCAL_REDIS_KEY_PREFIX
  value: {{ .Values.redis.keyPrefix | quote }}
{{- if .Values.redis.sentinels }}
- name: AUTOCAL_REDIS_SENTINELS
  value: {{ .Values.redis.sentinels | quote }}
- name: AUTOCAL_REDIS_SENTINEL_NAME
  value: {{ required "redis.sentinelName: the name of the primary the Sentinels monitor" .Values.redis.sentinelName | quote }}
{{- end }}
- name: AUTOCAL_LOG_LEVEL
  value: {{ .Values.logLevel | quote }}
{{- with .Values.nodeOptions }}
- name: NODE_OPTIONS
  value: {{ . | quote }}
{{- end }}
- name: AUTOCAL_SHUTDOWN_GRACE_MS
  value: {{ .Values.shutdownGraceMs | quote }}
- name: AUTOCAL_OTLP_ENDPOINT
  value: {{ .Values.otlpEndpoint | quote }}
- name: AUTOCAL_DATA_DIR
  value: {{ .Values.data.mountPath | quote }}
- name: AUTOCAL_HTTP_HOST
  value: "0.0.0.0"
- name: AUTOCAL_INSTANCE_ID
  valueFrom:
    fieldRef:
      fieldPath: metadata.name
{{- end -}}

{{/*
Kafka and Redis connection security of one service: environment. Arguments:
root context, the service's values. Secrets are files (mounted by
autocal.securityVolumes), never environment values.
*/}}
{{- define "autocal.securityEnv" -}}
{{- $root := index . 0 -}}
{{- $svc := index . 1 -}}
{{- $kafka := $root.Values.kafka -}}
{{- $redis := $root.Values.redis -}}
{{- if or $kafka.tls.enabled $kafka.tls.caSecret $kafka.sasl.mechanism }}
- name: AUTOCAL_KAFKA_TLS
  value: "true"
{{- end }}
{{- if $kafka.tls.caSecret }}
- name: AUTOCAL_KAFKA_TLS_CA_FILE
  value: /etc/autocal/kafka-ca/{{ $kafka.tls.caKey }}
{{- end }}
{{- if $kafka.sasl.mechanism }}
- name: AUTOCAL_KAFKA_SASL_MECHANISM
  value: {{ $kafka.sasl.mechanism | quote }}
- name: AUTOCAL_KAFKA_USERNAME
  value: {{ $svc.credentials.kafkaUser | quote }}
- name: AUTOCAL_KAFKA_PASSWORD_FILE
  value: /etc/autocal/kafka-user/{{ $svc.credentials.passwordKey }}
{{- end }}
{{- if $redis.auth.enabled }}
{{- with $svc.credentials.redisUser }}
- name: AUTOCAL_REDIS_USERNAME
  value: {{ . | quote }}
{{- end }}
- name: AUTOCAL_REDIS_PASSWORD_FILE
  value: /etc/autocal/redis-user/{{ $svc.credentials.passwordKey }}
{{- end }}
{{- if $redis.tls.caSecret }}
- name: AUTOCAL_REDIS_TLS_CA_FILE
  value: /etc/autocal/redis-ca/{{ $redis.tls.caKey }}
{{- end }}
{{- end -}}

{{/* The volumes of autocal.securityEnv's files, and their mounts. Arguments as above. */}}
{{- define "autocal.securityVolumes" -}}
{{- $root := index . 0 -}}
{{- $svc := index . 1 -}}
{{- with $root.Values.kafka.tls.caSecret }}
- name: kafka-ca
  secret:
    secretName: {{ . }}
    items: [{ key: {{ $root.Values.kafka.tls.caKey }}, path: {{ $root.Values.kafka.tls.caKey }} }]
{{- end }}
{{- if $root.Values.kafka.sasl.mechanism }}
- name: kafka-user
  secret:
    secretName: {{ $svc.credentials.kafkaSecret }}
    items: [{ key: {{ $svc.credentials.passwordKey }}, path: {{ $svc.credentials.passwordKey }} }]
{{- end }}
{{- if $root.Values.redis.auth.enabled }}
- name: redis-user
  secret:
    secretName: {{ $svc.credentials.redisSecret }}
    items: [{ key: {{ $svc.credentials.passwordKey }}, path: {{ $svc.credentials.passwordKey }} }]
{{- end }}
{{- with $root.Values.redis.tls.caSecret }}
- name: redis-ca
  secret:
    secretName: {{ . }}
    items: [{ key: {{ $root.Values.redis.tls.caKey }}, path: {{ $root.Values.redis.tls.caKey }} }]
{{- end }}
{{- end -}}

{{- define "autocal.securityMounts" -}}
{{- $root := index . 0 -}}
{{- if $root.Values.kafka.tls.caSecret }}
- { name: kafka-ca, mountPath: /etc/autocal/kafka-ca, readOnly: true }
{{- end }}
{{- if $root.Values.kafka.sasl.mechanism }}
- { name: kafka-user, mountPath: /etc/autocal/kafka-user, readOnly: true }
{{- end }}
{{- if $root.Values.redis.auth.enabled }}
- { name: redis-user, mountPath: /etc/autocal/redis-user, readOnly: true }
{{- end }}
{{- if $root.Values.redis.tls.caSecret }}
- { name: redis-ca, mountPath: /etc/autocal/redis-ca, readOnly: true }
{{- end }}
{{- end -}}

{{/* The Secret of a service's own AUTOCAL_* keys: its existing one, or the one rendered from secretEnv, or none. */}}
{{- define "autocal.serviceSecretName" -}}
{{- $root := index . 0 -}}
{{- $svc := index . 1 -}}
{{- $name := index . 2 -}}
{{- if $svc.existingSecret -}}
{{ $svc.existingSecret }}
{{- else if $svc.secretEnv -}}
{{ include "autocal.fullname" $root }}-{{ $name }}
{{- end -}}
{{- end -}}

{{/*
One service: Deployment + Service. Arguments: root context, service key in
values, directory name under services/, and whether it has a gRPC port.
*/}}
{{- define "autocal.service" -}}
{{- $root := index . 0 -}}
{{- $key := index . 1 -}}
{{- $name := index . 2 -}}
{{- $svc := index $root.Values.services $key -}}
{{- $kube := false -}}
{{- if and (eq $name "job-executor") $svc.kubernetes -}}
{{- $kube = $svc.kubernetes.enabled -}}
{{- end -}}
{{- $secret := include "autocal.serviceSecretName" (list $root $svc $name) -}}
{{- if $svc.enabled }}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ include "autocal.fullname" $root }}-{{ $name }}
  labels:
    {{- include "autocal.labels" $root | nindent 4 }}
    app.kubernetes.io/component: {{ $name }}
spec:
  replicas: {{ $svc.replicas }}
  selector:
    matchLabels:
      app.kubernetes.io/instance: {{ $root.Release.Name }}
      app.kubernetes.io/component: {{ $name }}
  template:
    metadata:
      labels:
        {{- include "autocal.labels" $root | nindent 8 }}
        app.kubernetes.io/component: {{ $name }}
      annotations:
        prometheus.io/scrape: "true"
        prometheus.io/port: {{ $svc.httpPort | quote }}
        prometheus.io/path: /metrics
        checksum/workflows: {{ list $root.Values.workflows $root.Values.workflowFiles | toJson | sha256sum }}
    spec:
      {{- with $root.Values.imagePullSecrets }}
      imagePullSecrets:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      serviceAccountName: {{ include "autocal.fullname" $root }}-{{ $name }}
      # no Kubernetes API token in the pod, except the executor's when its kubernetes backend is on
      automountServiceAccountToken: {{ $kube }}
      securityContext:
        {{- toYaml $root.Values.podSecurityContext | nindent 8 }}
      # SIGTERM → stop consuming, finish in-flight work, commit; then exit
      terminationGracePeriodSeconds: {{ add (div $root.Values.shutdownGraceMs 1000) 10 }}
      containers:
        - name: {{ $name }}
          image: "{{ $root.Values.image.repository }}:{{ $root.Values.image.tag }}"
          imagePullPolicy: {{ $root.Values.image.pullPolicy }}
          workingDir: /app/services/{{ $name }}
          command: ["node", "src/index.ts"]
          securityContext:
            {{- toYaml $root.Values.securityContext | nindent 12 }}
          env:
            {{- include "autocal.commonEnv" $root | nindent 12 }}
            {{- include "autocal.securityEnv" (list $root $svc) | nindent 12 }}
            {{- if $kube }}
            - name: AUTOCAL_KUBE_NAMESPACE
              value: {{ $root.Release.Namespace | quote }}
            {{- end }}
            - name: AUTOCAL_HTTP_PORT
              value: {{ $svc.httpPort | quote }}
            {{- if $svc.grpcPort }}
            - name: AUTOCAL_GRPC_HOST
              value: "0.0.0.0"
            - name: AUTOCAL_GRPC_PORT
              value: {{ $svc.grpcPort | quote }}
            {{- end }}
            {{- if eq $name "task-dispatcher" }}
            - name: AUTOCAL_WORKFLOWS_DIR
              value: {{ include "autocal.workflowDir" $root }}
            {{- end }}
            {{- if eq $name "job-executor" }}
            # the base of the jobs' log_url links (the status API and dashboard show them)
            - name: AUTOCAL_EXECUTOR_PUBLIC_URL
              value: {{ $svc.publicUrl | default (printf "http://%s-%s.%s.svc:%v" (include "autocal.fullname" $root) $name $root.Release.Namespace $svc.httpPort) | quote }}
            {{- if $svc.agentTls.secret }}
            - name: AUTOCAL_AGENT_TLS_CERT_FILE
              value: /etc/autocal/agent-tls/tls.crt
            - name: AUTOCAL_AGENT_TLS_KEY_FILE
              value: /etc/autocal/agent-tls/tls.key
            {{- end }}
            {{- end }}
            {{- if eq $name "task-dispatcher" }}
            {{- if $svc.controlTls.secret }}
            # the control API over TLS (a kubernetes.io/tls Secret)
            - name: AUTOCAL_CONTROL_TLS_CERT_FILE
              value: /etc/autocal/control-tls/tls.crt
            - name: AUTOCAL_CONTROL_TLS_KEY_FILE
              value: /etc/autocal/control-tls/tls.key
            {{- else if $svc.controlTls.insecure }}
            # the control API in plaintext: an explicit choice of these values (controlTls.insecure)
            - name: AUTOCAL_CONTROL_INSECURE
              value: "true"
            {{- else }}
            {{- fail "services.taskDispatcher.controlTls: set secret (a kubernetes.io/tls Secret) or insecure: true" }}
            {{- end }}
            {{- end }}
            {{- range $k, $v := $svc.env }}
            - name: {{ $k }}
              value: {{ $v | quote }}
            {{- end }}
          {{- with $secret }}
          # this service's own Secret only
          envFrom:
            - secretRef:
                name: {{ . }}
          {{- end }}
          ports:
            - name: http
              containerPort: {{ $svc.httpPort }}
            {{- if $svc.grpcPort }}
            - name: grpc
              containerPort: {{ $svc.grpcPort }}
            {{- end }}
          # liveness starts once the service has answered once: a long rebuild of
          # state at start (read models, FCSR, task state from Kafka) is not killed
          startupProbe:
            httpGet: { path: /healthz, port: http }
            periodSeconds: 5
            failureThreshold: {{ div (add $svc.startupSeconds 4) 5 }}
          livenessProbe:
            httpGet: { path: /healthz, port: http }
            periodSeconds: 10
          readinessProbe:
            httpGet: { path: /readyz, port: http }
            periodSeconds: 5
          resources:
            {{- toYaml $svc.resources | nindent 12 }}
          volumeMounts:
            - name: data
              mountPath: {{ $root.Values.data.mountPath }}
            - name: tmp
              mountPath: /tmp
            {{- include "autocal.securityMounts" (list $root) | nindent 12 }}
            {{- if or (eq $name "task-dispatcher") (eq $name "job-executor") }}
            # workflow files, their scripts ({workflowDir}/scripts, run by the executor's local backend) and data files
            - name: workflows
              mountPath: {{ include "autocal.workflowDir" $root }}
              readOnly: true
            {{- end }}
            {{- if and (eq $name "job-executor") $svc.agentTls.secret }}
            - { name: agent-tls, mountPath: /etc/autocal/agent-tls, readOnly: true }
            {{- end }}
            {{- if and (eq $name "task-dispatcher") $svc.controlTls.secret }}
            - { name: control-tls, mountPath: /etc/autocal/control-tls, readOnly: true }
            {{- end }}
      volumes:
        - name: data
          persistentVolumeClaim:
            claimName: {{ $root.Values.data.persistentVolumeClaim }}
        - name: tmp
          emptyDir: {}
        {{- include "autocal.securityVolumes" (list $root $svc) | nindent 8 }}
        {{- if or (eq $name "task-dispatcher") (eq $name "job-executor") }}
        - name: workflows
          configMap:
            name: {{ include "autocal.fullname" $root }}-workflows
            {{- include "autocal.workflowItems" $root | nindent 12 }}
        {{- end }}
        {{- if and (eq $name "job-executor") $svc.agentTls.secret }}
        - name: agent-tls
          secret:
            secretName: {{ $svc.agentTls.secret }}
        {{- end }}
        {{- if and (eq $name "task-dispatcher") $svc.controlTls.secret }}
        - name: control-tls
          secret:
            secretName: {{ $svc.controlTls.secret }}
        {{- end }}
---
apiVersion: v1
kind: Service
metadata:
  name: {{ include "autocal.fullname" $root }}-{{ $name }}
  labels:
    {{- include "autocal.labels" $root | nindent 4 }}
    app.kubernetes.io/component: {{ $name }}
spec:
  selector:
    app.kubernetes.io/instance: {{ $root.Release.Name }}
    app.kubernetes.io/component: {{ $name }}
  ports:
    - name: http
      port: {{ $svc.httpPort }}
      targetPort: http
    {{- if $svc.grpcPort }}
    - name: grpc
      port: {{ $svc.grpcPort }}
      targetPort: grpc
    {{- end }}
{{- if and $svc.grpcPort $root.Values.grpcExternal.type }}
---
# {{ $name }}'s gRPC port from outside the cluster (grpcExternal.type)
apiVersion: v1
kind: Service
metadata:
  name: {{ include "autocal.fullname" $root }}-{{ $name }}-grpc
  labels:
    {{- include "autocal.labels" $root | nindent 4 }}
    app.kubernetes.io/component: {{ $name }}
  {{- with $root.Values.grpcExternal.annotations }}
  annotations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
spec:
  type: {{ $root.Values.grpcExternal.type }}
  selector:
    app.kubernetes.io/instance: {{ $root.Release.Name }}
    app.kubernetes.io/component: {{ $name }}
  ports:
    - name: grpc
      port: {{ $svc.grpcPort }}
      targetPort: grpc
      {{- $nodePort := index $root.Values.grpcExternal.nodePorts $key }}
      {{- if and (eq $root.Values.grpcExternal.type "NodePort") $nodePort }}
      nodePort: {{ $nodePort }}
      {{- end }}
{{- end }}
{{- if $root.Values.podDisruptionBudget.enabled }}
---
# voluntary disruptions (node drains) take at most maxUnavailable pods of {{ $name }} at a time
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {{ include "autocal.fullname" $root }}-{{ $name }}
  labels:
    {{- include "autocal.labels" $root | nindent 4 }}
    app.kubernetes.io/component: {{ $name }}
spec:
  maxUnavailable: {{ $root.Values.podDisruptionBudget.maxUnavailable }}
  selector:
    matchLabels:
      app.kubernetes.io/instance: {{ $root.Release.Name }}
      app.kubernetes.io/component: {{ $name }}
{{- end }}
{{- if and $svc.autoscaling $svc.autoscaling.enabled }}
---
# scale on the consumer lag of {{ $name }}'s group: the autocal_consumer_lag gauge
# (metrics service, labels group and topic) served as an external metric by a
# metrics adapter (prometheus-adapter, or KEDA's); see the README
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: {{ include "autocal.fullname" $root }}-{{ $name }}
  labels:
    {{- include "autocal.labels" $root | nindent 4 }}
    app.kubernetes.io/component: {{ $name }}
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: {{ include "autocal.fullname" $root }}-{{ $name }}
  minReplicas: {{ $svc.autoscaling.minReplicas }}
  maxReplicas: {{ $svc.autoscaling.maxReplicas }}
  metrics:
    - type: External
      external:
        metric:
          name: autocal_consumer_lag
          selector:
            matchLabels:
              group: {{ ternary $name (printf "%s.%s" $root.Values.kafka.topicPrefix $name) (eq $root.Values.kafka.topicPrefix "") | quote }}
        target:
          type: AverageValue
          averageValue: {{ $svc.autoscaling.lagPerReplica | quote }}
{{- end }}
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: {{ include "autocal.fullname" $root }}-{{ $name }}
  labels:
    {{- include "autocal.labels" $root | nindent 4 }}
    app.kubernetes.io/component: {{ $name }}
automountServiceAccountToken: {{ $kube }}
{{- if and $svc.secretEnv (not $svc.existingSecret) }}
---
apiVersion: v1
kind: Secret
metadata:
  name: {{ include "autocal.fullname" $root }}-{{ $name }}
  labels:
    {{- include "autocal.labels" $root | nindent 4 }}
    app.kubernetes.io/component: {{ $name }}
type: Opaque
stringData:
  {{- range $k, $v := $svc.secretEnv }}
  {{ $k }}: {{ $v | quote }}
  {{- end }}
{{- end }}
{{- if $kube }}
---
# the kubernetes backend: create, watch and delete the jobs' Jobs, read their pods and logs; this namespace only
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: {{ include "autocal.fullname" $root }}-{{ $name }}
  labels:
    {{- include "autocal.labels" $root | nindent 4 }}
    app.kubernetes.io/component: {{ $name }}
rules:
  - apiGroups: [batch]
    resources: [jobs]
    verbs: [create, get, list, watch, delete]
  - apiGroups: [batch]
    resources: [jobs/status]
    verbs: [get]
  - apiGroups: [""]
    resources: [pods]
    verbs: [get, list, watch]
  - apiGroups: [""]
    resources: [pods/log]
    verbs: [get]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: {{ include "autocal.fullname" $root }}-{{ $name }}
  labels:
    {{- include "autocal.labels" $root | nindent 4 }}
    app.kubernetes.io/component: {{ $name }}
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: Role
  name: {{ include "autocal.fullname" $root }}-{{ $name }}
subjects:
  - kind: ServiceAccount
    name: {{ include "autocal.fullname" $root }}-{{ $name }}
    namespace: {{ $root.Release.Namespace }}
{{- end }}
{{- if $root.Values.networkPolicy.enabled }}
---
# {{ $name }}: ingress only to its own ports; egress only to Kafka, Redis, DNS and its own destinations
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: {{ include "autocal.fullname" $root }}-{{ $name }}
  labels:
    {{- include "autocal.labels" $root | nindent 4 }}
    app.kubernetes.io/component: {{ $name }}
spec:
  podSelector:
    matchLabels:
      app.kubernetes.io/instance: {{ $root.Release.Name }}
      app.kubernetes.io/component: {{ $name }}
  policyTypes: [Ingress, Egress]
  ingress:
    - ports:
        - { protocol: TCP, port: {{ $svc.httpPort }} }
        {{- if $svc.grpcPort }}
        - { protocol: TCP, port: {{ $svc.grpcPort }} }
        {{- end }}
      from:
        - podSelector:
            matchLabels:
              app.kubernetes.io/instance: {{ $root.Release.Name }}
        {{- with $root.Values.networkPolicy.ingressFrom }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
  egress:
    {{- $destinations := list "kafka" "redis" "dns" }}
    {{- if $root.Values.otlpEndpoint }}{{ $destinations = append $destinations "otlp" }}{{ end }}
    {{- range $dest := $destinations }}
    {{- $rule := index $root.Values.networkPolicy $dest }}
    - ports:
        {{- range $rule.ports }}
        - { protocol: TCP, port: {{ . }} }
        {{- if eq $dest "dns" }}
        - { protocol: UDP, port: {{ . }} }
        {{- end }}
        {{- end }}
      {{- with $rule.to }}
      to:
        {{- toYaml . | nindent 8 }}
      {{- end }}
    {{- end }}
    {{- if $kube }}
    - ports:
        {{- range $root.Values.networkPolicy.kubeApiServer.ports }}
        - { protocol: TCP, port: {{ . }} }
        {{- end }}
      {{- with $root.Values.networkPolicy.kubeApiServer.to }}
      to:
        {{- toYaml . | nindent 8 }}
      {{- end }}
    {{- end }}
    {{- with $svc.egress }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
{{- end }}
{{- end }}
{{- end -}}


{{/* Where the workflow volume is mounted: AUTOCAL_WORKFLOWS_DIR, and {workflowDir} of the tasks. */}}
{{- define "autocal.workflowDir" -}}
/etc/autocal/workflows
{{- end -}}

{{/*
The workflow volume's items: workflows.<file> at the top, workflowFiles.<path>
(e.g. scripts/process_block.py, certification/<golden>.json) at its path. A
ConfigMap key cannot hold "/": those keys are stored with "__" for "/".
*/}}
{{- define "autocal.workflowItems" -}}
{{- if or .Values.workflows .Values.workflowFiles -}}
items:
  {{- range $file, $_ := .Values.workflows }}
  - { key: {{ $file | quote }}, path: {{ $file | quote }} }
  {{- end }}
  {{- range $path, $_ := .Values.workflowFiles }}
  - { key: {{ replace "/" "__" $path | quote }}, path: {{ $path | quote }} }
  {{- end }}
{{- end }}
{{- end -}}
