{{/* Names, labels and the image reference. */}}
{{- define "stowaway.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "stowaway.fullname" -}}
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

{{- define "stowaway.selectorLabels" -}}
app.kubernetes.io/name: {{ include "stowaway.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "stowaway.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "stowaway.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "stowaway.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "stowaway.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "stowaway.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{- define "stowaway.claimName" -}}
{{- default (printf "%s-data" (include "stowaway.fullname" .)) .Values.persistence.existingClaim -}}
{{- end -}}

{{/* The DB directory: on the data volume, or on each pod's own emptyDir. */}}
{{- define "stowaway.dbDir" -}}
{{- if eq .Values.vulndb.volume "emptyDir" -}}/var/lib/stowaway/vulndb{{- else -}}/data/vulndb{{- end -}}
{{- end -}}

{{/* Checks of combinations that cannot work; each names the value to change. */}}
{{- define "stowaway.validate" -}}
{{- $v := .Values -}}
{{- if not (has $v.vulndb.volume (list "data" "emptyDir")) -}}
{{- fail (printf "vulndb.volume %q: want data or emptyDir" $v.vulndb.volume) -}}
{{- end -}}
{{- if not (has $v.vulndb.init (list "" "update" "pull")) -}}
{{- fail (printf "vulndb.init %q: want update, pull or empty" $v.vulndb.init) -}}
{{- end -}}
{{- if and (eq $v.vulndb.init "pull") (not $v.vulndb.pullRef) -}}
{{- fail "vulndb.init=pull needs vulndb.pullRef (a DB pushed with stowaway db push)" -}}
{{- end -}}
{{- if and $v.postgresql.existingSecret $v.postgresql.dsn -}}
{{- fail "postgresql: set existingSecret or dsn, not both" -}}
{{- end -}}
{{- if and $v.storage.s3 $v.storage.configSecret -}}
{{- fail "storage: set s3 (--storage) or configSecret (--storage-config), not both" -}}
{{- end -}}
{{- if and $v.storage.configSecret (not $v.storage.configKey) -}}
{{- fail "storage.configSecret needs storage.configKey (the file's key in the Secret)" -}}
{{- end -}}
{{- if and $v.auth.existingSecret $v.auth.quickStartSecret -}}
{{- fail "auth: set existingSecret (an --auth-config file) or quickStartSecret, not both" -}}
{{- end -}}
{{- if gt (int $v.replicaCount) 1 -}}
{{- if not (or $v.postgresql.existingSecret $v.postgresql.dsn) -}}
{{- fail "replicaCount > 1 needs postgresql.existingSecret or postgresql.dsn: SQLite serves one replica" -}}
{{- end -}}
{{- if and (not (or $v.storage.s3 $v.storage.configSecret)) (not (has "ReadWriteMany" $v.persistence.accessModes)) -}}
{{- fail "replicaCount > 1 needs storage.s3, or persistence.accessModes [ReadWriteMany]: replicas share the blobs (storage.configSecret naming an s3 driver counts as storage.s3)" -}}
{{- end -}}
{{- if eq $v.vulndb.volume "data" -}}
{{- fail "replicaCount > 1 needs vulndb.volume=emptyDir: two replicas must not update one DB directory" -}}
{{- end -}}
{{- if and (not $v.persistence.enabled) (not (or $v.storage.s3 $v.storage.configSecret)) -}}
{{- fail "replicaCount > 1 needs persistence.enabled, storage.s3 or storage.configSecret" -}}
{{- end -}}
{{- end -}}
{{- if $v.admission.enabled -}}
{{- if not $v.admission.tlsSecret -}}
{{- fail "admission.enabled needs admission.tlsSecret: the API server calls webhooks over TLS only" -}}
{{- end -}}
{{- if and (not $v.admission.clientCASecret) (not $v.admission.insecure) -}}
{{- fail "admission.enabled needs admission.clientCASecret (the CA of the API server's client certificate) or, knowingly, admission.insecure=true" -}}
{{- end -}}
{{- if not (has $v.admission.failurePolicy (list "Fail" "Ignore")) -}}
{{- fail (printf "admission.failurePolicy %q: want Fail or Ignore" $v.admission.failurePolicy) -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* The volume mount that holds the DB directory. */}}
{{- define "stowaway.dbMount" -}}
{{- if eq .Values.vulndb.volume "emptyDir" -}}
- name: vulndb
  mountPath: /var/lib/stowaway
{{- else -}}
- name: data
  mountPath: /data
{{- end -}}
{{- end -}}
