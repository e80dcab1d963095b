{{/* Labels of every object of the chart; the first line is also the selector. */}}
{{- define "gatehouse.labels" -}}
app.kubernetes.io/name: gatehouse-controller
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ .Chart.Name }}-{{ .Chart.Version }}
{{- end }}
