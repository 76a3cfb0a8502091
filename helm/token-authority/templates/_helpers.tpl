{{/*
Chart name, truncated to the 63 characters a label value allows.
*/}}
{{- define "token-authority.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Resource name prefix. The trial Redis appends "-redis", so the prefix is cut
to 57 characters to keep every name within 63.
*/}}
{{- define "token-authority.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 57 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 57 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 57 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "token-authority.redisName" -}}
{{- printf "%s-redis" (include "token-authority.fullname" .) }}
{{- end }}

{{- define "token-authority.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Labels shared by every resource; the component label is added per resource.
*/}}
{{- define "token-authority.commonLabels" -}}
helm.sh/chart: {{ include "token-authority.chart" . }}
app.kubernetes.io/name: {{ include "token-authority.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: token-authority
{{- end }}

{{/*
Selector labels of the server pods. The component label keeps them apart
from the trial Redis pods of the same release.
*/}}
{{- define "token-authority.selectorLabels" -}}
app.kubernetes.io/name: {{ include "token-authority.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: server
{{- end }}

{{- define "token-authority.labels" -}}
{{ include "token-authority.commonLabels" . }}
app.kubernetes.io/component: server
{{- end }}

{{- define "token-authority.redisSelectorLabels" -}}
app.kubernetes.io/name: {{ include "token-authority.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: redis
{{- end }}

{{- define "token-authority.redisLabels" -}}
{{ include "token-authority.commonLabels" . }}
app.kubernetes.io/component: redis
{{- end }}

{{- define "token-authority.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "token-authority.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
Image reference from an image values block: the digest wins over the tag,
and an empty tag falls back to the chart's appVersion.
Call with (dict "image" .Values.image "default" .Chart.AppVersion).
*/}}
{{- define "token-authority.imageRef" -}}
{{- if .image.digest }}
{{- printf "%s@%s" .image.repository .image.digest }}
{{- else }}
{{- printf "%s:%s" .image.repository (default .default .image.tag) }}
{{- end }}
{{- end }}

{{/*
Store the server uses: "existingSecret", "url", "trial" or "memory".
Fails rendering on a contradictory or missing Redis setup.
*/}}
{{- define "token-authority.storeMode" -}}
{{- $redis := .Values.redis }}
{{- if and $redis.existingSecret $redis.url }}
{{- fail "redis.existingSecret and redis.url are both set: set only one of them" }}
{{- end }}
{{- if .Values.redisTrial.enabled }}
{{- if or $redis.existingSecret $redis.url }}
{{- fail "redisTrial.enabled is true while redis.existingSecret or redis.url is set: use either the trial Redis or an external Redis" }}
{{- end }}
{{- if .Values.config.redisCluster }}
{{- fail "config.redisCluster is true, but the trial Redis is a single node, not a Redis Cluster: set config.redisCluster=false" }}
{{- end }}
{{- if not .Values.redisTrial.password }}
{{- fail "redisTrial.password is missing: set a password of at least 16 characters to run the trial Redis" }}
{{- end }}
{{- "trial" }}
{{- else if $redis.existingSecret }}
{{- "existingSecret" }}
{{- else if $redis.url }}
{{- "url" }}
{{- else if .Values.allowInMemoryStore }}
{{- "memory" }}
{{- else }}
{{- fail "no Redis is configured: set redis.existingSecret (recommended), redis.url or redisTrial.enabled=true. For a single-pod demo that loses its tokens on every restart, set allowInMemoryStore=true" }}
{{- end }}
{{- end }}

{{/*
Name of the Secret the chart creates: it holds the Redis URL from redis.url
or for the trial Redis, the trial Redis configuration, and the admin token
from adminToken.value.
*/}}
{{- define "token-authority.secretName" -}}
{{- include "token-authority.fullname" . }}
{{- end }}

{{/*
Secret and key the server reads its Redis URL from; empty for the in-memory
store.
*/}}
{{- define "token-authority.redisUrlSecretName" -}}
{{- $mode := include "token-authority.storeMode" . }}
{{- if eq $mode "existingSecret" }}
{{- .Values.redis.existingSecret }}
{{- else if ne $mode "memory" }}
{{- include "token-authority.secretName" . }}
{{- end }}
{{- end }}

{{- define "token-authority.redisUrlSecretKey" -}}
{{- if eq (include "token-authority.storeMode" .) "existingSecret" }}
{{- .Values.redis.existingSecretKey }}
{{- else }}
{{- "redis-url" }}
{{- end }}
{{- end }}

{{/*
Secret the server reads its admin token from: adminToken.existingSecret, or
the chart's Secret when adminToken.value is set. Empty when no admin token is
configured. Fails rendering when both are set.
*/}}
{{- define "token-authority.adminTokenSecretName" -}}
{{- $admin := .Values.adminToken }}
{{- if and $admin.existingSecret $admin.value }}
{{- fail "adminToken.existingSecret and adminToken.value are both set: set only one of them" }}
{{- end }}
{{- if $admin.existingSecret }}
{{- $admin.existingSecret }}
{{- else if $admin.value }}
{{- include "token-authority.secretName" . }}
{{- end }}
{{- end }}

{{- define "token-authority.adminTokenSecretKey" -}}
{{- if .Values.adminToken.existingSecret }}
{{- .Values.adminToken.key }}
{{- else }}
{{- "admin-token" }}
{{- end }}
{{- end }}

{{/*
Directory the admin token Secret is mounted at; the token is the file
"admin-token" in it.
*/}}
{{- define "token-authority.adminTokenDir" -}}
/etc/token-authority/admin-token
{{- end }}

{{/*
URL of the trial Redis. The schema restricts the password to characters
that need no escaping in a URL.
*/}}
{{- define "token-authority.trialRedisUrl" -}}
{{- printf "redis://:%s@%s.%s.svc:6379/0" .Values.redisTrial.password (include "token-authority.redisName" .) .Release.Namespace }}
{{- end }}

{{/*
Termination grace period: the preStop sleep plus the drain deadline plus a
margin for the process to exit, unless set explicitly.
*/}}
{{- define "token-authority.terminationGracePeriodSeconds" -}}
{{- $minimum := add .Values.preStopSleepSeconds .Values.config.shutdownTimeoutSeconds }}
{{- if kindIs "invalid" .Values.terminationGracePeriodSeconds }}
{{- add $minimum 10 }}
{{- else if le (int .Values.terminationGracePeriodSeconds) (int $minimum) }}
{{- fail (printf "terminationGracePeriodSeconds is %v, but it must be larger than preStopSleepSeconds + config.shutdownTimeoutSeconds = %v, or the server is killed while it drains: raise it, or set it to null to use %v" .Values.terminationGracePeriodSeconds $minimum (add $minimum 10)) }}
{{- else }}
{{- .Values.terminationGracePeriodSeconds }}
{{- end }}
{{- end }}

{{/*
Checks across values that the schema cannot express. Renders nothing.
*/}}
{{- define "token-authority.validateValues" -}}
{{- $mode := include "token-authority.storeMode" . }}
{{- $_ := include "token-authority.adminTokenSecretName" . }}
{{- if and (eq $mode "memory") .Values.autoscaling.enabled }}
{{- fail "autoscaling.enabled is true, but the in-memory store serves a single pod: configure a Redis or set autoscaling.enabled=false" }}
{{- end }}
{{- if and .Values.serviceMonitor.enabled (not .Values.metrics.enabled) }}
{{- fail "serviceMonitor.enabled is true, but metrics.enabled is false: set metrics.enabled=true so the Service has a metrics port to scrape" }}
{{- end }}
{{- $pdb := .Values.podDisruptionBudget }}
{{- if and $pdb.enabled (not (kindIs "invalid" $pdb.minAvailable)) (not (kindIs "invalid" $pdb.maxUnavailable)) }}
{{- fail "podDisruptionBudget.minAvailable and podDisruptionBudget.maxUnavailable are both set: set the other one to null" }}
{{- end }}
{{- if and .Values.metrics.enabled (eq (int .Values.metrics.port) (int .Values.containerPorts.grpc)) }}
{{- fail "metrics.port equals containerPorts.grpc: give the metrics endpoint its own port" }}
{{- end }}
{{- end }}

{{/*
Hash of the rendered ConfigMap and chart-created Secret. It is a pod
annotation, so a configuration change rolls the pods.
*/}}
{{- define "token-authority.configChecksum" -}}
{{- $configMap := include (print .Template.BasePath "/configmap.yaml") . }}
{{- $secret := include (print .Template.BasePath "/secret.yaml") . }}
{{- printf "%s\n---\n%s" $configMap $secret | sha256sum }}
{{- end }}
