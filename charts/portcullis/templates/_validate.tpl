{{/* Checks across values that a JSON schema cannot say clearly. Included by NOTES.txt
and by the Deployments, so `helm template`, `install` and `upgrade` all stop on them. */}}
{{- define "portcullis.validate" -}}
{{- range $component := list "operator" "outpost" }}
{{- $pdb := (index $.Values $component).podDisruptionBudget }}
{{- $min := ne (toString (default "" $pdb.minAvailable)) "" }}
{{- $max := ne (toString (default "" $pdb.maxUnavailable)) "" }}
{{- if and $pdb.enabled $min $max }}
{{- fail (printf "%s.podDisruptionBudget: set minAvailable or maxUnavailable, not both (set the other to an empty string, e.g. --set-string %s.podDisruptionBudget.minAvailable=)" $component $component) }}
{{- end }}
{{- if and $pdb.enabled (not $min) (not $max) }}
{{- fail (printf "%s.podDisruptionBudget: set minAvailable or maxUnavailable" $component) }}
{{- end }}
{{- end }}
{{- $o := .Values.outpost }}
{{- if eq (int $o.port) (int $o.adminPort) }}
{{- fail (printf "outpost.port and outpost.adminPort are both %d; the public and admin ports must differ" (int $o.port)) }}
{{- end }}
{{- if eq (int $o.service.port) (int $o.service.metricsPort) }}
{{- fail (printf "outpost.service.port and outpost.service.metricsPort are both %d; they must differ" (int $o.service.port)) }}
{{- end }}
{{- if and $o.autoscaling.enabled (gt (int $o.autoscaling.minReplicas) (int $o.autoscaling.maxReplicas)) }}
{{- fail (printf "outpost.autoscaling: minReplicas (%d) is greater than maxReplicas (%d)" (int $o.autoscaling.minReplicas) (int $o.autoscaling.maxReplicas)) }}
{{- end }}
{{- if and $o.sidecar.serviceAccounts (or (ne $o.keys.cookieSecretKey "cookie-secret") (ne $o.keys.signingKeyKey "signing-key.pem")) }}
{{- fail "outpost.sidecar: a sidecar reads the keys Secret through the API by the key names the operator writes (cookie-secret, signing-key.pem); set outpost.keys.cookieSecretKey=cookie-secret and outpost.keys.signingKeyKey=signing-key.pem, or name your existingSecret's keys so" }}
{{- end }}
{{- if and $o.sidecar.serviceAccounts (not .Values.outpost.rbac.create) }}
{{- fail "outpost.sidecar.serviceAccounts: the sidecars' access is a RoleBinding the chart creates with outpost.rbac.create=true; enable it, or bind those ServiceAccounts to the outpost's rules yourself and leave the list empty" }}
{{- end }}
{{- if and $o.keys.existingSecret (eq $o.keys.generator "operator") }}
{{- fail "outpost.keys: existingSecret is a Secret you manage; generator=operator would have the operator write into it. Leave generator at its default (helm) with existingSecret" }}
{{- end }}
{{- end -}}
