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
- name: AUTOCAL_REDIS_URL
  value: {{ .Values.redis.url | quote }}
- name: AUTOCAL_REDIS_KEY_PREFIX
  value: {{ .Values.redis.keyPrefix | quote }}
- name: AUTOCAL_LOG_LEVEL
  value: {{ .Values.logLevel | quote }}
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
One service: Deployment + Service. Arguments: root context, service key in
values, directory name under services/, and whether it has a gRPC port.
*/}}
{{- define "autocal.service" -}}
{{- $root := index . 0 -}}
{{- $key := index . 1 -}}
{{- $name := index . 2 -}}
{{- $svc := index $root.Values.services $key -}}
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
        checksum/workflows: {{ toJson $root.Values.workflows | sha256sum }}
    spec:
      {{- with $root.Values.imagePullSecrets }}
      imagePullSecrets:
        {{- toYaml . | nindent 8 }}
      {{- end }}
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
              value: /etc/autocal/workflows
            {{- end }}
            {{- range $k, $v := $svc.env }}
            - name: {{ $k }}
              value: {{ $v | quote }}
            {{- end }}
          {{- if $root.Values.existingSecret }}
          envFrom:
            - secretRef:
                name: {{ $root.Values.existingSecret }}
                optional: true
          {{- end }}
          ports:
            - name: http
              containerPort: {{ $svc.httpPort }}
            {{- if $svc.grpcPort }}
            - name: grpc
              containerPort: {{ $svc.grpcPort }}
            {{- end }}
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
            {{- if eq $name "task-dispatcher" }}
            - name: workflows
              mountPath: /etc/autocal/workflows
              readOnly: true
            {{- end }}
      volumes:
        - name: data
          persistentVolumeClaim:
            claimName: {{ $root.Values.data.persistentVolumeClaim }}
        - name: tmp
          emptyDir: {}
        {{- if eq $name "task-dispatcher" }}
        - name: workflows
          configMap:
            name: {{ include "autocal.fullname" $root }}-workflows
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
{{- end }}
{{- end -}}
