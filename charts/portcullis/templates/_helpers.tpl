{{/* Name of the chart, overridable. */}}
{{- define "portcullis.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Prefix of every object name: the release name when it already contains the chart
name (the documented `helm install portcullis ...` gives `portcullis-operator`). */}}
{{- define "portcullis.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 50 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "portcullis.operator.fullname" -}}{{ include "portcullis.fullname" . }}-operator{{- end -}}
{{- define "portcullis.outpost.fullname" -}}{{ include "portcullis.fullname" . }}-outpost{{- end -}}

{{- define "portcullis.operator.serviceAccountName" -}}
{{- if .Values.operator.serviceAccount.create -}}
{{- default (include "portcullis.operator.fullname" .) .Values.operator.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.operator.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "portcullis.outpost.serviceAccountName" -}}
{{- if .Values.outpost.serviceAccount.create -}}
{{- default (include "portcullis.outpost.fullname" .) .Values.outpost.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.outpost.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* The Secret holding the outpost's cookie secret and signing key. */}}
{{- define "portcullis.outpost.keysSecretName" -}}
{{- default (printf "%s-keys" (include "portcullis.outpost.fullname" .)) .Values.outpost.keys.existingSecret -}}
{{- end -}}

{{/* Common labels; the component label is added by the caller. */}}
{{- define "portcullis.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "portcullis.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: portcullis
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{- define "portcullis.selectorLabels" -}}
app.kubernetes.io/name: {{ include "portcullis.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* The image reference: repository[:tag][@digest]. */}}
{{- define "portcullis.image" -}}
{{- $tag := default .Chart.AppVersion .Values.image.tag -}}
{{- if .Values.image.digest -}}
{{- printf "%s:%s@%s" .Values.image.repository $tag .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository $tag -}}
{{- end -}}
{{- end -}}

{{/* Default topologySpreadConstraints: spread replicas over nodes and zones, best effort
(ScheduleAnyway, so a one-node cluster still schedules both). Args: dict root, component. */}}
{{- define "portcullis.topologySpread" -}}
{{- $root := .root -}}
- maxSkew: 1
  topologyKey: kubernetes.io/hostname
  whenUnsatisfiable: ScheduleAnyway
  labelSelector:
    matchLabels:
      {{- include "portcullis.selectorLabels" $root | nindent 6 }}
      app.kubernetes.io/component: {{ .component }}
  matchLabelKeys: [pod-template-hash]
- maxSkew: 1
  topologyKey: topology.kubernetes.io/zone
  whenUnsatisfiable: ScheduleAnyway
  labelSelector:
    matchLabels:
      {{- include "portcullis.selectorLabels" $root | nindent 6 }}
      app.kubernetes.io/component: {{ .component }}
  matchLabelKeys: [pod-template-hash]
{{- end -}}

{{/* The ingress-nginx annotations for this release (NOTES.txt and docs). */}}
{{- define "portcullis.outpost.authURL" -}}
{{- $port := int .Values.outpost.service.port -}}
{{- if eq $port 80 -}}
{{- printf "http://%s.%s.svc.cluster.local/oauth2/auth" (include "portcullis.outpost.fullname" .) .Release.Namespace -}}
{{- else -}}
{{- printf "http://%s.%s.svc.cluster.local:%d/oauth2/auth" (include "portcullis.outpost.fullname" .) .Release.Namespace $port -}}
{{- end -}}
{{- end -}}

{{/* A new ES256 (P-256) private key as PKCS#8 PEM ("BEGIN PRIVATE KEY"), the format the
outpost's --signing-key-file reads. Sprig's genPrivateKey "ecdsa" gives SEC1 ("BEGIN EC
PRIVATE KEY"): its DER (always 121 bytes for P-256) is wrapped in the fixed PKCS#8
PrivateKeyInfo header for id-ecPublicKey / prime256v1 (RFC 5208, RFC 5915). */}}
{{- define "portcullis.genSigningKey" -}}
{{- $sec1 := regexReplaceAll "-----[A-Z ]+-----" (genPrivateKey "ecdsa") "" | nospace | b64dec -}}
{{- if ne (len $sec1) 121 -}}
{{- fail (printf "internal: unexpected SEC1 key length %d" (len $sec1)) -}}
{{- end -}}
{{- $der := printf "%s%s" ("MIGTAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBHk=" | b64dec) $sec1 -}}
-----BEGIN PRIVATE KEY-----
{{ regexReplaceAll "(.{64})" (b64enc $der) "${1}\n" | trimSuffix "\n" }}
-----END PRIVATE KEY-----
{{ end -}}

{{/* The outpost as a sidecar container (templates/outpost-sidecar.yaml). No
readinessProbe: a sidecar that is not ready would take the whole pod (the ingress
controller, serving every other app) out of its Service; the ingress then answers 500
for protected routes only, which the outpost's log and /readyz explain. */}}
{{- define "portcullis.outpost.sidecarContainer" -}}
{{- $o := .Values.outpost -}}
{{- $s := $o.sidecar -}}
name: portcullis-outpost
image: {{ include "portcullis.image" . | quote }}
imagePullPolicy: {{ .Values.image.pullPolicy }}
command: ["/usr/local/bin/portcullis"]
args:
  - outpost
  - --cluster-namespace={{ .Release.Namespace }}
  - --keys-secret={{ include "portcullis.outpost.keysSecretName" . }}
  - --listen={{ $s.listenAddress }}:{{ $s.port }}
  - --admin-listen=0.0.0.0:{{ $s.adminPort }}
  - --log-format={{ $o.logFormat }}
  {{- range $s.trustedProxies }}
  - --trusted-proxy={{ . }}
  {{- end }}
  {{- range $o.extraArgs }}
  - {{ . | quote }}
  {{- end }}
env:
  - name: RUST_LOG
    value: {{ $o.logLevel | quote }}
ports:
  - name: outpost-http
    containerPort: {{ $s.port }}
    protocol: TCP
  - name: outpost-admin
    containerPort: {{ $s.adminPort }}
    protocol: TCP
livenessProbe:
  httpGet:
    path: /healthz
    port: outpost-admin
  periodSeconds: 10
  failureThreshold: 3
resources:
  {{- toYaml $o.resources | nindent 2 }}
securityContext:
  {{- toYaml (merge (dict "runAsUser" .Values.podSecurityContext.runAsUser "runAsGroup" .Values.podSecurityContext.runAsGroup) .Values.securityContext) | nindent 2 }}
{{- end -}}
