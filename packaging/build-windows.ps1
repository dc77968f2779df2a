# Build Meike's Windows installer: the one-folder build (PyInstaller, pinned versions), its self-test,
# then the setup program (NSIS 3). Needs Python 3.11 x64 (python.org, with the py launcher) and NSIS 3
# (nsis.sourceforge.io). From the repository's folder, in PowerShell:
#   powershell -ExecutionPolicy Bypass -File packaging\build-windows.ps1
# Writes dist\Meike\ (the program) and dist\Meike-Setup-<version>.exe (the installer).
$ErrorActionPreference = "Stop"
Set-Location (Split-Path $PSScriptRoot -Parent)

function Run([string]$exe) {
    & $exe @args
    if ($LASTEXITCODE -ne 0) { throw "$exe $args failed with exit code $LASTEXITCODE" }
}

if (-not (Test-Path .venv-build\Scripts\python.exe)) { Run py -3.11 -m venv .venv-build }
$bpy = (Resolve-Path .venv-build\Scripts\python.exe).Path
Run $bpy -m pip install --upgrade pip
Run $bpy -m pip install -r packaging\requirements-build.txt
# setuptools reuses build\lib: a module deleted from the source would still ship
foreach ($old in @("build\lib", "meike.egg-info")) { if (Test-Path $old) { Remove-Item -Recurse -Force $old } }
Get-ChildItem build -Filter "bdist.*" -ErrorAction SilentlyContinue | Remove-Item -Recurse -Force
Run $bpy -m pip install --no-deps --force-reinstall .

if (Test-Path dist\Meike) { Remove-Item -Recurse -Force dist\Meike }
New-Item -ItemType Directory -Force build\pyinstaller | Out-Null
Push-Location build\pyinstaller  # outside the source tree: its meike\ would shadow the installed package
try {
    Run $bpy -m PyInstaller --noconfirm --log-level WARN --distpath ..\..\dist --workpath work ..\..\packaging\meike.spec
} finally { Pop-Location }
Run $bpy packaging\notices.py dist\Meike\THIRD-PARTY-NOTICES.txt --licenses dist\Meike\licenses
Copy-Item LICENSE, CHANGELOG.md dist\Meike\
Copy-Item packaging\licenses\*.txt dist\Meike\licenses\

Run dist\Meike\meike-check.exe --selftest

Run $bpy packaging\nsis_files.py dist\Meike build\nsis
$version = (& $bpy packaging\nsis_files.py --version).Trim()
$makensis = Join-Path ${env:ProgramFiles(x86)} "NSIS\makensis.exe"
if (-not (Test-Path $makensis)) { $makensis = "makensis" }
Run $makensis /V2 "/DVERSION=$version" /DDISTDIR=dist\Meike installer.nsi
Write-Host "dist\Meike-Setup-$version.exe"
