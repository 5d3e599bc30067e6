{{- define "mesure.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 50 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "mesure.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{/* Selector labels of one component: (dict "root" $ "component" "collector") */}}
{{- define "mesure.selector" -}}
app.kubernetes.io/name: {{ .root.Chart.Name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "mesure.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}

{{- define "mesure.secretName" -}}
{{ .Values.secrets.existingSecret | default (printf "%s-secrets" (include "mesure.fullname" .)) }}
{{- end -}}

{{/* Whether the accounts live in SQLite on the dashboard's volume; refuses what cannot work. */}}
{{- define "mesure.sqlite" -}}
{{- if eq .Values.accounts.store "sqlite" -}}
{{- if gt (int .Values.dashboard.replicas) 1 -}}
{{- fail "dashboard.replicas > 1 needs accounts.store=postgres: a SQLite file serves one dashboard" -}}
{{- end -}}
true
{{- else if eq .Values.accounts.store "postgres" -}}
{{- if and (not .Values.secrets.existingSecret) (not .Values.secrets.accountsUrl) -}}
{{- fail "accounts.store=postgres needs secrets.accountsUrl or secrets.existingSecret with the key accounts-url" -}}
{{- end -}}
{{- else -}}
{{- fail "accounts.store is sqlite or postgres" -}}
{{- end -}}
{{- end -}}

{{/* mesure.toml: the configuration file every process reads. */}}
{{- define "mesure.config" -}}
{{- $base := dict "clickhouse" (dict "url" .Values.clickhouse.url "user" .Values.clickhouse.user "database" .Values.clickhouse.database "cluster" .Values.clickhouse.cluster) "retention" (dict "months" (int .Values.retentionMonths)) -}}
{{- toToml (merge $base (deepCopy .Values.config)) -}}
{{- end -}}

{{/* The Secret's data: only the keys that are set. */}}
{{- define "mesure.secretData" -}}
{{- with .Values.secrets.clickhousePassword }}
clickhouse-password: {{ . | b64enc | quote }}
{{- end }}
{{- with .Values.secrets.accountsUrl }}
accounts-url: {{ . | b64enc | quote }}
{{- end }}
{{- with .Values.secrets.oidcClientSecret }}
oidc-client-secret: {{ . | b64enc | quote }}
{{- end }}
{{- end -}}

{{/* Environment every process gets: the file, and the secrets. */}}
{{- define "mesure.env" -}}
- name: MESURE_CONFIG
  value: /etc/mesure/mesure.toml
- name: MESURE_CLICKHOUSE_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ .secret }}
      key: clickhouse-password
      optional: true
- name: MESURE_OIDC_CLIENT_SECRET
  valueFrom:
    secretKeyRef:
      name: {{ .secret }}
      key: oidc-client-secret
      optional: true
{{- end -}}

{{- define "mesure.accountsEnv" -}}
{{- if include "mesure.sqlite" .root }}
- name: MESURE_ACCOUNTS_URL
  value: sqlite://{{ .path }}/accounts.sqlite
{{- else }}
- name: MESURE_ACCOUNTS_URL
  valueFrom:
    secretKeyRef:
      name: {{ include "mesure.secretName" .root }}
      key: accounts-url
{{- end }}
{{- end -}}
