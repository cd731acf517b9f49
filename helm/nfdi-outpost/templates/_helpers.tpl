{{/* Names and labels (Helm's chart conventions). */}}
{{- define "nfdi-outpost.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "nfdi-outpost.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: outpost
{{- end -}}

{{- define "nfdi-outpost.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{/* Labels every user pod gets (KubeSpawner's component label plus this release's). */}}
{{- define "nfdi-outpost.userPodSelector" -}}
component: singleuser-server
nfdi-outpost/release: {{ .Release.Name }}
{{- end -}}

{{- define "nfdi-outpost.secretName" -}}
{{- .Values.existingSecret | default (include "nfdi-outpost.fullname" .) -}}
{{- end -}}

{{- define "nfdi-outpost.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- .Values.serviceAccount.name | default (include "nfdi-outpost.fullname" .) -}}
{{- else -}}
{{- .Values.serviceAccount.name | default "default" -}}
{{- end -}}
{{- end -}}

{{- define "nfdi-outpost.userNamespace" -}}
{{- .Values.userPods.namespace | default .Release.Namespace -}}
{{- end -}}

{{- define "nfdi-outpost.image" -}}
{{- if .digest -}}
{{- printf "%s@%s" .name .digest -}}
{{- else -}}
{{- printf "%s:%s" .name .tag -}}
{{- end -}}
{{- end -}}

{{- define "nfdi-outpost.pybool" -}}
{{- if . }}True{{ else }}False{{ end -}}
{{- end -}}

{{/* Egress rules: DNS, public addresses (private ranges excepted) on "ports" (empty: any
     port), and the "allowed" CIDRs. Argument: dict "np" .Values.networkPolicy "allowed" list "ports" list */}}
{{- define "nfdi-outpost.egressOut" -}}
- ports:
    - {port: 53, protocol: UDP}
    - {port: 53, protocol: TCP}
- to:
    - ipBlock:
        cidr: 0.0.0.0/0
        except:
          {{- toYaml .np.privateCIDRs | nindent 10 }}
  {{- with .ports }}
  ports:
    {{- range . }}
    - {port: {{ . }}, protocol: TCP}
    {{- end }}
  {{- end }}
{{- range .allowed }}
- to:
    - ipBlock:
        cidr: {{ .cidr }}
  ports:
    {{- range .ports }}
    - {port: {{ . }}, protocol: TCP}
    {{- end }}
{{- end }}
{{- end -}}

{{/* flavors.yaml when the values give none. */}}
{{- define "nfdi-outpost.defaultFlavors" -}}
flavors:
  small:
    display_name: "Small: 1 CPU, 2 GB"
    weight: 10
    max: -1
    runtime: {hours: 8}
    resources: {cpu_limit: 1, cpu_guarantee: 0.2, mem_limit: 2G, mem_guarantee: 1G}
  large:
    display_name: "Large: 2 CPUs, 8 GB"
    weight: 5
    max: 5
    maxPerUser: 1
    runtime: {hours: 4}
    resources: {cpu_limit: 2, cpu_guarantee: 1, mem_limit: 8G, mem_guarantee: 4G}
{{- end -}}
