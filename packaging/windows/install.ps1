<#
.SYNOPSIS
  Installs, upgrades or removes farmwatch-agent as a Windows service: the signed-script alternative to the MSI.

.DESCRIPTION
  Run as Administrator (Intune: a platform script or a Win32 app running as SYSTEM; GPO: a startup script),
  from the directory of the windows archive that holds farmwatch-agent.exe. It
    1. stops an installed agent and copies farmwatch-agent.exe to Program Files\farmwatch;
    2. runs "farmwatch-agent service install", which creates ProgramData\farmwatch readable by SYSTEM and
       Administrators only and registers the service (automatic start, restart after 1 minute on failure,
       failure count reset after 1 day);
    3. writes the install config ProgramData\farmwatch\agent.json when -Collector is given (an upgrade
       without -Collector keeps the existing one); several collectors, in order of preference, are
       given as a list (-Collector a.example.com:7443,b.example.com:7443) for failover;
    4. starts the service, which enrolls on first start and keeps its identity and spool in
       ProgramData\farmwatch\agent across upgrades.

  Signing (for an execution policy of AllSigned, or Intune's "enforce script signature check"):
    Set-AuthenticodeSignature -FilePath install.ps1 -Certificate (Get-ChildItem Cert:\CurrentUser\My -CodeSigningCert)[0] -TimestampServer <your CA's timestamp URL>

.EXAMPLE
  .\install.ps1 -Collector collector.example.com:7443 -EnrollmentToken fwt_... -CAFingerprint 3f9a...
.EXAMPLE
  .\install.ps1 -Uninstall -Purge
#>
[CmdletBinding(DefaultParameterSetName = 'Install')]
param(
  [Parameter(ParameterSetName = 'Install')][string[]]$Collector,
  [Parameter(ParameterSetName = 'Install')][string]$EnrollmentToken,
  [Parameter(ParameterSetName = 'Install')][string]$CAFingerprint,
  [Parameter(ParameterSetName = 'Install')][string]$ReportInterval = '5m',
  [Parameter(ParameterSetName = 'Install')][string]$Binary = (Join-Path $PSScriptRoot 'farmwatch-agent.exe'),
  [Parameter(ParameterSetName = 'Uninstall', Mandatory = $true)][switch]$Uninstall,
  [Parameter(ParameterSetName = 'Uninstall')][switch]$Purge
)
$ErrorActionPreference = 'Stop'

$principal = New-Object Security.Principal.WindowsPrincipal([Security.Principal.WindowsIdentity]::GetCurrent())
if (-not $principal.IsInRole([Security.Principal.WindowsBuiltInRole]::Administrator)) {
  throw 'run install.ps1 as Administrator'
}

$installDir = Join-Path $env:ProgramFiles 'farmwatch'
$exe = Join-Path $installDir 'farmwatch-agent.exe'
$dataDir = Join-Path $env:ProgramData 'farmwatch'
$config = Join-Path $dataDir 'agent.json'

function Invoke-Agent([string[]]$Arguments) {
  & $exe @Arguments
  if ($LASTEXITCODE -ne 0) { throw "farmwatch-agent $($Arguments -join ' ') failed with exit code $LASTEXITCODE" }
}

if ($Uninstall) {
  if (Test-Path $exe) {
    $arguments = @('service', 'uninstall')
    if ($Purge) { $arguments += '--purge' }
    Invoke-Agent $arguments
    Remove-Item -Recurse -Force $installDir
  }
  if ($Purge -and (Test-Path $dataDir)) { Remove-Item -Recurse -Force $dataDir }
  Write-Output 'farmwatch-agent removed'
  exit 0
}

if (-not (Test-Path $Binary)) { throw "no farmwatch-agent.exe at $Binary" }
if (-not $Collector -and -not (Test-Path $config)) {
  throw "no install config at ${config}: give -Collector, -EnrollmentToken and -CAFingerprint"
}

if (Get-Service -Name 'farmwatch-agent' -ErrorAction SilentlyContinue) {
  Stop-Service -Name 'farmwatch-agent' -ErrorAction SilentlyContinue
}
New-Item -ItemType Directory -Force -Path $installDir | Out-Null
Copy-Item -Force $Binary $exe

Invoke-Agent @('service', 'install', '--config', $config)

if ($Collector) {
  # One collector, or several in order of preference: the agent reads them
  # comma-separated.
  $settings = [ordered]@{ collector = ($Collector -join ','); report_interval = $ReportInterval }
  if ($EnrollmentToken) { $settings.enrollment_token = $EnrollmentToken }
  if ($CAFingerprint) { $settings.ca_fingerprint = $CAFingerprint }
  # UTF-8 without a byte-order mark: the agent reads plain JSON. The file
  # inherits the SYSTEM/Administrators-only ACL of ProgramData\farmwatch.
  [IO.File]::WriteAllText($config, ($settings | ConvertTo-Json), (New-Object Text.UTF8Encoding $false))
}

Invoke-Agent @('service', 'start')
Write-Output "farmwatch-agent installed and started; see what it sends with: & '$exe' collect --json"
