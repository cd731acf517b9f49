{{/* Names and labels (Helm's chart conventions). */}}
{{- define "nfdi-launcher.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "nfdi-launcher.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "nfdi-launcher.labels" -}}
{{ include "nfdi-launcher.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{/* Secret holding hub-api-token, build-token-secret, store-url. */}}
{{- define "nfdi-launcher.secretName" -}}
{{- .Values.existingSecret | default (include "nfdi-launcher.fullname" .) -}}
{{- end -}}

{{- define "nfdi-launcher.registrySecretName" -}}
{{- .Values.registry.existingSecret | default (printf "%s-registry" (include "nfdi-launcher.fullname" .)) -}}
{{- end -}}

{{- define "nfdi-launcher.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- .Values.serviceAccount.name | default (include "nfdi-launcher.fullname" .) -}}
{{- else -}}
{{- .Values.serviceAccount.name | default "default" -}}
{{- end -}}
{{- end -}}

{{- define "nfdi-launcher.buildNamespace" -}}
{{- .Values.builds.namespace | default .Release.Namespace -}}
{{- end -}}

{{/* name:tag, or name@digest when a digest is given. */}}
{{- define "nfdi-launcher.image" -}}
{{- if .digest -}}
{{- printf "%s@%s" .name .digest -}}
{{- else -}}
{{- printf "%s:%s" .name .tag -}}
{{- end -}}
{{- end -}}

{{/* Registry host (no scheme) of registry.url. */}}
{{- define "nfdi-launcher.registryHost" -}}
{{- regexReplaceAll "^[a-z]+://" .Values.registry.url "" | trimSuffix "/" -}}
{{- end -}}

{{/* Python literal of a boolean. */}}
{{- define "nfdi-launcher.pybool" -}}
{{- if . }}True{{ else }}False{{ end -}}
{{- end -}}

{{/* In-cluster URL of the launcher Service (what the z2jh hub.services entry points at). */}}
{{- define "nfdi-launcher.serviceURL" -}}
{{- printf "http://%s.%s.svc:%v" (include "nfdi-launcher.fullname" .) .Release.Namespace .Values.service.port -}}
{{- end -}}

{{/* Security context shared by the launcher's containers. */}}
{{- define "nfdi-launcher.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
capabilities:
  drop: [ALL]
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "nfdi-launcher.systemsSecretName" -}}
{{- .Values.outposts.existingSecret | default (printf "%s-systems" (include "nfdi-launcher.fullname" .)) -}}
{{- end -}}

{{/* Egress rules shared by launcher and build pods: DNS, public addresses on
     publicPorts (private ranges excepted), and allowedCIDRs. Argument: .Values.networkPolicy */}}
{{- define "nfdi-launcher.egressOut" -}}
- ports:
    - {port: 53, protocol: UDP}
    - {port: 53, protocol: TCP}
- to:
    - ipBlock:
        cidr: 0.0.0.0/0
        except:
          {{- toYaml .privateCIDRs | nindent 10 }}
  ports:
    {{- range .publicPorts }}
    - {port: {{ . }}, protocol: TCP}
    {{- end }}
{{- range .allowedCIDRs }}
- to:
    - ipBlock:
        cidr: {{ .cidr }}
  ports:
    {{- range .ports }}
    - {port: {{ . }}, protocol: TCP}
    {{- end }}
{{- end }}
{{- end -}}
