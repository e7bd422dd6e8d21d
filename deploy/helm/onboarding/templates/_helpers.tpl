{{/* Names and labels. */}}
{{- define "onboarding.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "onboarding.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "onboarding.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "onboarding.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "onboarding.selectorLabels" -}}
app.kubernetes.io/name: {{ include "onboarding.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* Labels of one component: (dict "root" $ "component" "api"). */}}
{{- define "onboarding.componentLabels" -}}
{{ include "onboarding.labels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "onboarding.componentSelector" -}}
{{ include "onboarding.selectorLabels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "onboarding.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "onboarding.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "onboarding.image" -}}
{{- $tag := default .Chart.AppVersion .Values.image.tag -}}
{{- if .Values.image.digest -}}
{{- printf "%s:%s@%s" .Values.image.repository $tag .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository $tag -}}
{{- end -}}
{{- end -}}

{{/* The secret environment variables, in a fixed order. */}}
{{- define "onboarding.secretNames" -}}
{{- list "DATABASE_URL" "PAYLOAD_ENCRYPTION_KEYS" "ADMIN_TOKEN" "CODEC_TOKEN" "SMTP_USERNAME" "SMTP_PASSWORD" "NTS_SERVICE_KEY" "RATE_LIMIT_STORE" "AWS_ACCESS_KEY_ID" "AWS_SECRET_ACCESS_KEY" "TEMPORAL_API_KEY" | toJson -}}
{{- end -}}

{{/* The variables without which the api and the worker do not start. */}}
{{- define "onboarding.requiredSecrets" -}}
{{- $req := list "DATABASE_URL" "PAYLOAD_ENCRYPTION_KEYS" -}}
{{- if eq .Values.temporal.auth "apiKey" -}}
{{- $req = append $req "TEMPORAL_API_KEY" -}}
{{- end -}}
{{- $req | toJson -}}
{{- end -}}

{{/*
Where one secret variable comes from, as a secretKeyRef body (name, key,
optional) in YAML, or nothing when it is not set anywhere:
(dict "root" $ "name" "DATABASE_URL").
*/}}
{{- define "onboarding.secretRef" -}}
{{- $root := .root -}}
{{- $name := .name -}}
{{- $e := index $root.Values.secrets.env $name | default dict -}}
{{- $required := has $name (include "onboarding.requiredSecrets" $root | fromJsonArray) -}}
{{- if and $e.value $e.existingSecret -}}
{{- fail (printf "secrets.env.%s: set value or existingSecret, not both" $name) -}}
{{- else if $e.value -}}
name: {{ include "onboarding.fullname" $root }}
key: {{ $name }}
{{- else if $e.existingSecret -}}
name: {{ $e.existingSecret }}
key: {{ default $name $e.key }}
{{- else if $root.Values.secrets.existingSecret -}}
name: {{ $root.Values.secrets.existingSecret }}
key: {{ $name }}
{{- if not $required }}
optional: true
{{- end }}
{{- else if $required -}}
{{- fail (printf "secrets.env.%s is required: set its value or existingSecret, or secrets.existingSecret" $name) -}}
{{- end -}}
{{- end -}}

{{/* Whether the chart makes the main Secret (any secret given by value). */}}
{{- define "onboarding.hasChartSecret" -}}
{{- range $name, $e := .Values.secrets.env -}}
{{- if $e.value -}}yes{{- end -}}
{{- end -}}
{{- end -}}

{{/* The Temporal TLS files: mounted when mtls or a server CA is asked for. */}}
{{- define "onboarding.temporalFiles" -}}
{{- if or (eq .Values.temporal.auth "mtls") .Values.temporal.tls.serverCA -}}yes{{- end -}}
{{- end -}}

{{- define "onboarding.temporalTLSSecretName" -}}
{{- default (printf "%s-temporal-tls" (include "onboarding.fullname" .)) .Values.temporal.tls.existingSecret -}}
{{- end -}}

{{- define "onboarding.gcsSecretName" -}}
{{- default (printf "%s-gcs" (include "onboarding.fullname" .)) .Values.gcsCredentials.existingSecret -}}
{{- end -}}

{{- define "onboarding.hasGCS" -}}
{{- if or .Values.gcsCredentials.existingSecret .Values.gcsCredentials.value -}}yes{{- end -}}
{{- end -}}

{{- define "onboarding.temporalTLSDir" -}}/etc/onboarding/temporal-tls{{- end -}}
{{- define "onboarding.gcsDir" -}}/etc/onboarding/gcs{{- end -}}

{{/* The environment of the api and the worker beside the ConfigMap. */}}
{{- define "onboarding.commonEnv" -}}
{{- $root := . -}}
{{- range $name := include "onboarding.secretNames" . | fromJsonArray }}
{{- $ref := include "onboarding.secretRef" (dict "root" $root "name" $name) | fromYaml }}
{{- if $ref }}
- name: {{ $name }}
  valueFrom:
    secretKeyRef:
      {{- toYaml $ref | nindent 6 }}
{{- end }}
{{- end }}
{{- if include "onboarding.temporalFiles" . }}
{{- $dir := include "onboarding.temporalTLSDir" . }}
{{- if eq .Values.temporal.auth "mtls" }}
- name: TEMPORAL_TLS_CLIENT_CERT_PATH
  value: {{ printf "%s/%s" $dir .Values.temporal.tls.certKey | quote }}
- name: TEMPORAL_TLS_CLIENT_KEY_PATH
  value: {{ printf "%s/%s" $dir .Values.temporal.tls.keyKey | quote }}
{{- end }}
{{- if .Values.temporal.tls.serverCA }}
- name: TEMPORAL_TLS_SERVER_CA_CERT_PATH
  value: {{ printf "%s/%s" $dir .Values.temporal.tls.caKey | quote }}
{{- end }}
{{- end }}
{{- if include "onboarding.hasGCS" . }}
- name: GOOGLE_APPLICATION_CREDENTIALS
  value: {{ printf "%s/%s" (include "onboarding.gcsDir" .) .Values.gcsCredentials.key | quote }}
{{- end }}
{{- end -}}

{{/* Volumes of the api and the worker. */}}
{{- define "onboarding.volumes" -}}
- name: tmp
  emptyDir:
    sizeLimit: 64Mi
{{- if include "onboarding.temporalFiles" . }}
- name: temporal-tls
  secret:
    secretName: {{ include "onboarding.temporalTLSSecretName" . }}
    defaultMode: 0440
{{- end }}
{{- if include "onboarding.hasGCS" . }}
- name: gcs-credentials
  secret:
    secretName: {{ include "onboarding.gcsSecretName" . }}
    defaultMode: 0440
{{- end }}
{{- end -}}

{{- define "onboarding.volumeMounts" -}}
- name: tmp
  mountPath: /tmp
{{- if include "onboarding.temporalFiles" . }}
- name: temporal-tls
  mountPath: {{ include "onboarding.temporalTLSDir" . }}
  readOnly: true
{{- end }}
{{- if include "onboarding.hasGCS" . }}
- name: gcs-credentials
  mountPath: {{ include "onboarding.gcsDir" . }}
  readOnly: true
{{- end }}
{{- end -}}

{{/* Pod annotations that restart the pods when a chart-made Secret or the ConfigMap changes. */}}
{{- define "onboarding.checksums" -}}
checksum/config: {{ include (print .Template.BasePath "/configmap.yaml") . | sha256sum }}
checksum/secret: {{ include (print .Template.BasePath "/secret.yaml") . | sha256sum }}
{{- end -}}

{{/* Topology spread over nodes and zones: (dict "root" $ "component" "api" "spread" .Values.api.topologySpread). */}}
{{- define "onboarding.topologySpread" -}}
{{- if .spread.enabled }}
topologySpreadConstraints:
{{- range $key := list "kubernetes.io/hostname" "topology.kubernetes.io/zone" }}
  - maxSkew: {{ $.spread.maxSkew }}
    topologyKey: {{ $key }}
    whenUnsatisfiable: ScheduleAnyway
    labelSelector:
      matchLabels:
        {{- include "onboarding.componentSelector" $ | nindent 8 }}
{{- end }}
{{- end }}
{{- end -}}

{{/* Checks that no schema can express. */}}
{{- define "onboarding.validate" -}}
{{- if not .Values.temporal.address -}}
{{- fail "temporal.address is required (host:port of the Temporal frontend)" -}}
{{- end -}}
{{- if eq .Values.temporal.auth "mtls" -}}
{{- if and (not .Values.temporal.tls.existingSecret) (not (and .Values.temporal.tls.clientCert .Values.temporal.tls.clientKey)) -}}
{{- fail "temporal.auth=mtls needs temporal.tls.existingSecret, or temporal.tls.clientCert and clientKey" -}}
{{- end -}}
{{- end -}}
{{- if and .Values.temporal.tls.serverCA (not .Values.temporal.tls.existingSecret) (not .Values.temporal.tls.serverCACert) -}}
{{- fail "temporal.tls.serverCA needs temporal.tls.existingSecret or temporal.tls.serverCACert" -}}
{{- end -}}
{{- if and .Values.worker.keda.enabled .Values.worker.autoscaling.enabled -}}
{{- fail "worker.keda.enabled and worker.autoscaling.enabled: choose one (KEDA makes its own HPA)" -}}
{{- end -}}
{{- end -}}
