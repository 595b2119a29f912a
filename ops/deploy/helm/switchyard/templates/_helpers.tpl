{{/* Name of the release's objects: <release>-switchyard, or the release name when it already contains the chart name. */}}
{{- define "switchyard.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 50 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* Labels on every object. */}}
{{- define "switchyard.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: switchyard
{{- end -}}

{{/* Selector labels of one component: (dict "ctx" $ "component" "edge"). */}}
{{- define "switchyard.selector" -}}
app.kubernetes.io/name: {{ .ctx.Chart.Name }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* Image of one component: (dict "ctx" $ "component" "edge"). */}}
{{- define "switchyard.image" -}}
{{- printf "%s/%s:%s" .ctx.Values.image.repository .component (default .ctx.Chart.AppVersion .ctx.Values.image.tag) -}}
{{- end -}}

{{/* Name of the Secret holding the sensitive settings. */}}
{{- define "switchyard.secretName" -}}
{{- default (printf "%s-secret" (include "switchyard.fullname" .)) .Values.secret.existingSecret -}}
{{- end -}}

{{/* Pod template annotations: restart pods when settings change. */}}
{{- define "switchyard.checksums" -}}
checksum/config: {{ include (print .Template.BasePath "/configmap.yaml") . | sha256sum }}
checksum/secret: {{ include (print .Template.BasePath "/secret.yaml") . | sha256sum }}
{{- end -}}

{{/* Environment of every container: the ConfigMap and the Secret. */}}
{{- define "switchyard.envFrom" -}}
envFrom:
  - configMapRef:
      name: {{ include "switchyard.fullname" . }}-config
  - secretRef:
      name: {{ include "switchyard.secretName" . }}
{{- end -}}
