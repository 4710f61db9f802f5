{{/* Names and labels. */}}
{{- define "glm.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "glm.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "glm.selectorLabels" -}}
app.kubernetes.io/name: {{ include "glm.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "glm.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "glm.selectorLabels" . }}
app.kubernetes.io/component: controller
app.kubernetes.io/part-of: gitops-lifecycle-management
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "glm.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "glm.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The metrics Service; Prometheus' `job` label for its targets is this name. */}}
{{- define "glm.metricsService" -}}
{{- printf "%s-metrics" (include "glm.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "glm.tokenSecret" -}}
{{- default (printf "%s-authentik" (include "glm.fullname" .)) .Values.authentik.tokenSecret.name }}
{{- end }}

{{/*
The daemon's settings: every section it reads, less the keys that only shape Kubernetes
objects. The Lease's name and namespace follow the release.
*/}}
{{- define "glm.settings" -}}
{{- $controller := omit .Values.cleanup.controller "replicas" "resources" }}
{{- $cleanup := merge (dict "controller" $controller) (omit .Values.cleanup "controller") }}
{{- $election := merge (dict "leaseName" (include "glm.fullname" .) "leaseNamespace" .Release.Namespace) .Values.kubernetes.leaderElection }}
{{- $kubernetes := merge (dict "leaderElection" $election) (omit .Values.kubernetes "leaderElection") }}
{{- $thresholds := pick .Values.monitoring.prometheusRules.thresholds "cleanupFailureRate" "maxCleanupDuration" }}
{{- $monitoring := dict "enabled" .Values.monitoring.enabled "prometheusRules" (dict "enabled" .Values.monitoring.prometheusRules.enabled "thresholds" $thresholds) }}
{{- $authentik := omit .Values.authentik "tokenSecret" "externalSecret" }}
{{- $server := dict "host" "0.0.0.0" "port" .Values.server.port }}
{{- toJson (dict "logging" .Values.logging "server" $server "gracePeriod" .Values.gracePeriod "kubernetes" $kubernetes "cleanup" $cleanup "retry" .Values.retry "monitoring" $monitoring "authentik" $authentik "serviceDiscovery" .Values.serviceDiscovery) }}
{{- end }}

{{/*
One environment variable per setting: GITOPS_LIFECYCLE_ + the key path in upper case with
`__` between levels (what pydantic-settings reads). Lists go as JSON; strings as they are,
other scalars as JSON (true, 20, 0.5).
*/}}
{{- define "glm.envFor" -}}
{{- $name := index . 0 }}
{{- $value := index . 1 }}
{{- if kindIs "map" $value }}
{{- range $key := keys $value | sortAlpha }}
{{- include "glm.envFor" (list (printf "%s__%s" $name (upper $key)) (get $value $key)) }}
{{- end }}
{{- else if kindIs "slice" $value }}
- name: {{ $name }}
  value: {{ toJson $value | quote }}
{{- else if kindIs "string" $value }}
- name: {{ $name }}
  value: {{ $value | quote }}
{{- else if not (kindIs "invalid" $value) }}
- name: {{ $name }}
  value: {{ toJson $value | quote }}
{{- end }}
{{- end }}

{{- define "glm.env" -}}
{{- $settings := include "glm.settings" . | fromJson }}
{{- range $section := keys $settings | sortAlpha }}
{{- include "glm.envFor" (list (printf "GITOPS_LIFECYCLE_%s" (upper $section)) (get $settings $section)) }}
{{- end }}
{{- end }}
