{{/*
Every object's name is this prefix, a dash and its name in config/, as config/default's
namePrefix makes it: authly-controller-manager, authly-manager-role, ...
*/}}
{{- define "authly.prefix" -}}
{{ .Values.namePrefix | default "authly" | trimSuffix "-" }}
{{- end }}

{{/* The labels of every object but the CRDs: config/'s, and Helm's own. */}}
{{- define "authly.labels" -}}
app.kubernetes.io/name: authly-operator
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The operator's pods: the Deployment's selector, the metrics Service's, the ServiceMonitor's. */}}
{{- define "authly.selectorLabels" -}}
app.kubernetes.io/name: authly-operator
app.kubernetes.io/component: controller-manager
{{- end }}

{{- define "authly.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end }}
