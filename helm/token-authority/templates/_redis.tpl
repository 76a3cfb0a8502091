{{/*
redis.conf of the trial Redis. It is stored in the chart's Secret because it
contains the password. The append-only file on the data volume keeps the
token state across restarts, and noeviction makes a full Redis reject writes
instead of dropping tokens or rate-limit counters.
*/}}
{{- define "token-authority.trialRedisConfig" -}}
bind * -::*
port 6379
protected-mode yes
dir /data
appendonly yes
appendfsync everysec
maxmemory {{ .Values.redisTrial.maxMemory }}
maxmemory-policy noeviction
requirepass {{ .Values.redisTrial.password }}
{{- end }}
