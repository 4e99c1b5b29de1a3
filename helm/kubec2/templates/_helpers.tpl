{{/*
Object names are fixed (kubec2-operator, kubec2, kubec2-webhook, ...), as in
deploy/base: the CRDs, the webhook configurations and the ClusterRoles are
cluster-wide, so one install per cluster.
*/}}

{{/* Labels of every object: deploy/base's plus Helm's own. */}}
{{- define "kubec2.labels" -}}
app.kubernetes.io/name: kubec2
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end -}}

{{/* The operator pods' labels: the Deployment's selector, immutable. */}}
{{- define "kubec2.selectorLabels" -}}
app.kubernetes.io/name: kubec2
app.kubernetes.io/component: operator
{{- end -}}

{{- define "kubec2.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}

{{/* The webhook Service's DNS name: the certificate's and --webhook-hosts. */}}
{{- define "kubec2.webhookHost" -}}
kubec2-webhook.{{ .Release.Namespace }}.svc
{{- end -}}

{{- define "kubec2.certManager" -}}
{{- if eq .Values.webhook.certificateMode "cert-manager" }}true{{ end -}}
{{- end -}}

{{/*
Values the schema cannot relate to each other. Without leader election every
replica reconciles the same objects (two VMs for one Instance, policies
applied twice), so more than one replica needs it.
*/}}
{{- define "kubec2.validate" -}}
{{- if and (not .Values.leaderElection.enabled) (gt (int .Values.replicas) 1) }}
{{- fail (printf "leaderElection.enabled=false with replicas=%d: every replica would reconcile the same objects; set replicas=1 or leaderElection.enabled=true" (int .Values.replicas)) }}
{{- end }}
{{- end -}}
