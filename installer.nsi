; 美客 Meike: the Windows installer (NSIS 3, Modern UI 2), a per-machine install of the PyInstaller
; one-folder build (dist/Meike: the windowed Meike.exe, the console meike-check.exe, _internal/) into
; Meike-Setup-<version>.exe. It upgrades in place, refuses downgrades, and deletes only what it installed.
;
; How to build. The version is written in one place, pyproject.toml; nsis_files.py prints it and writes
; the file lists (build/nsis/install_files.nsh, uninstall_files.nsh, installed-files.txt) from the build.
; Run both steps every time: the lists must come from the same dist folder makensis packs.
;
;   Linux (Debian: apt-get install nsis), from the repository's folder:
;     .venv/bin/python packaging/nsis_files.py dist/Meike build/nsis
;     makensis -V2 -DVERSION=$(.venv/bin/python packaging/nsis_files.py --version) -DDISTDIR=dist/Meike installer.nsi
;
;   Windows (PowerShell, NSIS 3 from nsis.sourceforge.io), from the repository's folder:
;     python packaging\nsis_files.py dist\Meike build\nsis
;     $version = python packaging\nsis_files.py --version
;     & "${env:ProgramFiles(x86)}\NSIS\makensis.exe" /V2 "/DVERSION=$version" /DDISTDIR=dist\Meike installer.nsi
;
; Both write dist/Meike-Setup-<version>.exe. Defines (-D on Linux, /D or -D on Windows):
;   VERSION    x.y.z, required
;   DISTDIR    the PyInstaller build folder, default dist/Meike
;   FILELISTS  the folder nsis_files.py wrote into, default build/nsis
;   ICON       default resources/meike.ico (installer, uninstaller)
;   OUTDIR     where the setup program is written, default the folder holding DISTDIR (dist)
; Relative paths are taken from this file's folder (makensis changes into it).
;
; This file is UTF-8 with a BOM, so makensis reads its Chinese right whatever the build PC's code page.

Unicode true
ManifestDPIAware true
SetCompressor /SOLID lzma
RequestExecutionLevel admin

!include "MUI2.nsh"
!include "LogicLib.nsh"
!include "x64.nsh"
!include "WinVer.nsh"
!include "WordFunc.nsh"
!include "FileFunc.nsh"

;--------------------------------------------------------------------------------------------------
; Build parameters

!ifndef VERSION
  !error "VERSION is missing: makensis -DVERSION=x.y.z installer.nsi (python packaging/nsis_files.py --version prints the one in pyproject.toml)"
!endif
; VIProductVersion needs four numbers and VersionCompare compares numbers: accept x.y.z only.
!searchparse /noerrors "${VERSION}" "" _VERSION_MAJOR "." _VERSION_MINOR "." _VERSION_PATCH
!define /IfNDef _VERSION_MAJOR "?"
!define /IfNDef _VERSION_MINOR "?"
!define /IfNDef _VERSION_PATCH "?"
!define /math _VERSION_MAJOR_N ${_VERSION_MAJOR} + 0
!define /math _VERSION_MINOR_N ${_VERSION_MINOR} + 0
!define /math _VERSION_PATCH_N ${_VERSION_PATCH} + 0
!if "${_VERSION_MAJOR_N}.${_VERSION_MINOR_N}.${_VERSION_PATCH_N}" != "${VERSION}"
  !error "VERSION=${VERSION} is not x.y.z (numbers without leading zeros), e.g. 0.1.0"
!endif

!define /IfNDef DISTDIR "dist/Meike"
!define /IfNDef FILELISTS "build/nsis"
!define /IfNDef ICON "resources/meike.ico"
!define /IfNDef OUTDIR "${DISTDIR}/.."

!if /FileExists "${DISTDIR}/Meike.exe"
!else if /FileExists "${DISTDIR}/Meike"
  ; The Linux build: CI (make dist-check) compiles the script against it to prove the script and the
  ; file lists; the setup program it writes is not one to ship.
!else
  !error "${DISTDIR}/Meike.exe not found: build the program first (PyInstaller one-folder build) or pass -DDISTDIR=<folder>"
!endif
!if ! /FileExists "${FILELISTS}/install_files.nsh"
  !error "${FILELISTS}/install_files.nsh not found: run python packaging/nsis_files.py ${DISTDIR} ${FILELISTS} first"
!endif
!if ! /FileExists "${ICON}"
  !error "${ICON} not found: pass -DICON=<file.ico>"
!endif

;--------------------------------------------------------------------------------------------------
; Names

!define APPNAME "美客 Meike"
!define PUBLISHER "Meike"
!define EXE "Meike.exe"
!define UNINSTALLER "Uninstall.exe"  ; the name 0.1.0's script used too, so an upgrade overwrites its uninstaller
!define MANIFEST "installed-files.txt"  ; written by packaging/nsis_files.py, read by the next version's setup
!define APP_KEY "Software\Meike"
!define UNINST_KEY "Software\Microsoft\Windows\CurrentVersion\Uninstall\Meike"
!define STARTMENU "$SMPROGRAMS\美客"
; Held by a running Meike (ui/single_instance.py): Global\ for every session of the PC, the plain name
; for this session in case Global\ could not be created.
!define MUTEX "MeikeRunning"
; The clinic's data, shared by every Windows user of the PC: after SetShellVarContext all, $APPDATA is
; the common application data folder, C:\ProgramData, not a user's AppData\Roaming.
!define DATADIR "$APPDATA\Meike"

Name "${APPNAME}"
OutFile "${OUTDIR}/Meike-Setup-${VERSION}.exe"
InstallDir "$PROGRAMFILES64\Meike"
; No InstallDirRegKey: it is read before .onInit, in the 32-bit registry view. .onInit reads the previous
; install's folder itself, after SetRegView 64.
BrandingText "${APPNAME} ${VERSION}"
ShowInstDetails show
ShowUninstDetails show

Var OldDir  ; the folder of the version installed before this one, "" if none

;--------------------------------------------------------------------------------------------------
; Pages

!define MUI_ICON "${ICON}"
!define MUI_UNICON "${ICON}"
!define MUI_ABORTWARNING

!insertmacro MUI_PAGE_WELCOME
!insertmacro MUI_PAGE_DIRECTORY
!insertmacro MUI_PAGE_INSTFILES
!define MUI_FINISHPAGE_RUN
!define MUI_FINISHPAGE_RUN_TEXT "现在启动 美客"
!define MUI_FINISHPAGE_RUN_FUNCTION LaunchAsUser
!insertmacro MUI_PAGE_FINISH

!define MUI_UNCONFIRMPAGE_TEXT_TOP "将从下面的文件夹卸载 美客 的程序文件。诊所的数据（${DATADIR}）不会被删除。"
!insertmacro MUI_UNPAGE_CONFIRM
!insertmacro MUI_UNPAGE_INSTFILES

!insertmacro MUI_LANGUAGE "SimpChinese"

VIProductVersion "${VERSION}.0"
VIFileVersion "${VERSION}.0"
VIAddVersionKey /LANG=${LANG_SIMPCHINESE} "ProductName" "${APPNAME}"
VIAddVersionKey /LANG=${LANG_SIMPCHINESE} "ProductVersion" "${VERSION}"
VIAddVersionKey /LANG=${LANG_SIMPCHINESE} "FileVersion" "${VERSION}"
VIAddVersionKey /LANG=${LANG_SIMPCHINESE} "CompanyName" "${PUBLISHER}"
VIAddVersionKey /LANG=${LANG_SIMPCHINESE} "FileDescription" "${APPNAME} 安装程序"
VIAddVersionKey /LANG=${LANG_SIMPCHINESE} "LegalCopyright" "© ${PUBLISHER}"

;--------------------------------------------------------------------------------------------------
; Is Meike running? Installing over, or deleting, a running program fails half-way (its files are
; locked), so both the installer and the uninstaller wait until every Meike of the PC is closed.

; Sets $R2 to 1 when the named mutex exists. SYNCHRONIZE (0x00100000) is the least right OpenMutexW can
; ask for. A Meike started by another Windows user made the mutex with that user's default security, which
; may not let this (elevated) process open it: ERROR_ACCESS_DENIED (5) then still means "it exists".
!macro _MEIKE_MUTEX_EXISTS NAME
  System::Call 'kernel32::OpenMutexW(i 0x00100000, i 0, w "${NAME}") p .R0 ?e'
  Pop $R1
  ${If} $R0 P<> 0
    System::Call 'kernel32::CloseHandle(p R0)'
    StrCpy $R2 1
  ${ElseIf} $R1 = 5
    StrCpy $R2 1
  ${EndIf}
!macroend

!macro CHECK_NOT_RUNNING_FUNCTION PREFIX CANCEL_TEXT
  Function ${PREFIX}CheckNotRunning
    Push $R0
    Push $R1
    Push $R2
    ${Do}
      StrCpy $R2 0
      !insertmacro _MEIKE_MUTEX_EXISTS "Global\${MUTEX}"
      !insertmacro _MEIKE_MUTEX_EXISTS "${MUTEX}"
      ${If} $R2 = 0
        ${ExitDo}
      ${EndIf}
      MessageBox MB_RETRYCANCEL|MB_ICONEXCLAMATION "美客 正在运行（也可能是这台电脑上的另一个 Windows 用户打开的）。$\r$\n$\r$\n请先关闭所有的 美客，然后点击“重试”。点击“取消”${CANCEL_TEXT}。" /SD IDCANCEL IDRETRY retry
      Pop $R2
      Pop $R1
      Pop $R0
      SetErrorLevel 2  ; "aborted by script", also for a silent run of the uninstaller
      Abort
      retry:
    ${Loop}
    Pop $R2
    Pop $R1
    Pop $R0
  FunctionEnd
!macroend

!insertmacro CHECK_NOT_RUNNING_FUNCTION "" "退出安装"
!insertmacro CHECK_NOT_RUNNING_FUNCTION "un." "退出卸载"

;--------------------------------------------------------------------------------------------------
; Installer

Function .onInit
  SetShellVarContext all  ; shortcuts for every user, $APPDATA = C:\ProgramData

  ${IfNot} ${RunningX64}
    MessageBox MB_ICONSTOP "美客 需要 64 位的 Windows 10 或更新的版本，不能安装在 32 位的 Windows 上。" /SD IDOK
    Abort
  ${EndIf}
  ${IfNot} ${AtLeastWin10}
    MessageBox MB_ICONSTOP "美客 需要 Windows 10 或更新的版本，请先升级 Windows。" /SD IDOK
    Abort
  ${EndIf}
  SetRegView 64

  UserInfo::GetAccountType
  Pop $0
  ${If} $0 != "Admin"
    MessageBox MB_ICONSTOP "安装 美客 需要管理员权限。请用管理员账户运行安装程序。" /SD IDOK
    SetErrorLevel 740  ; ERROR_ELEVATION_REQUIRED
    Quit
  ${EndIf}

  ; An upgrade goes where the previous version is, unless /D= chose another folder.
  ReadRegStr $OldDir HKLM "${APP_KEY}" "InstallDir"
  ${If} $OldDir == ""
    ReadRegStr $OldDir HKLM "${UNINST_KEY}" "InstallLocation"
  ${EndIf}
  ${If} $OldDir != ""
  ${AndIf} $INSTDIR == "$PROGRAMFILES64\Meike"
    StrCpy $INSTDIR $OldDir
  ${EndIf}

  ; No downgrade: an older program may not read the database a newer one has migrated.
  ReadRegStr $0 HKLM "${UNINST_KEY}" "DisplayVersion"
  ${If} $0 != ""
    ${VersionCompare} $0 "${VERSION}" $1
    ${If} $1 = 1
      MessageBox MB_ICONSTOP "这台电脑已经安装了较新的 美客 $0，不能用较旧的 ${VERSION} 覆盖它。$\r$\n$\r$\n如果确实要换回旧版本，请先在“设置 → 应用”里卸载 美客（诊所的数据会保留），再运行这个安装程序。" /SD IDOK
      Abort
    ${EndIf}
  ${EndIf}

  Call CheckNotRunning
FunctionEnd

; Deletes what an earlier setup listed in <folder>\installed-files.txt: its files, then its folders if
; they are empty (listed deepest first, ending with a backslash). Only this list is trusted, and only
; for names inside the folder: an entry with "..", a drive, a wildcard or a leading slash is skipped, so
; a damaged list cannot reach anything else. Call with the folder pushed on the stack.
Function RemoveListedFiles
  Exch $R9
  Push $R0
  Push $R1
  Push $R2
  ClearErrors
  FileOpen $R0 "$R9\${MANIFEST}" r
  ${IfNot} ${Errors}
    DetailPrint "删除上一个版本的程序文件：$R9"
    ${Do}
      ClearErrors
      FileReadUTF16LE $R0 $R1
      ${If} ${Errors}
        ${ExitDo}
      ${EndIf}
      StrCpy $R2 $R1 1
      ${If} $R2 == "${U+FEFF}"
        StrCpy $R1 $R1 "" 1
      ${EndIf}
      ${Do}
        StrCpy $R2 $R1 1 -1
        ${If} $R2 == "$\n"
        ${OrIf} $R2 == "$\r"
          StrCpy $R1 $R1 -1
        ${Else}
          ${ExitDo}
        ${EndIf}
      ${Loop}
      StrCpy $R2 $R1 1
      ${If} $R1 == ""
      ${OrIf} $R2 == ";"
        ${Continue}
      ${EndIf}
      Push $R1
      Call IsPlainRelativePath
      Pop $R2
      ${If} $R2 != 1
        DetailPrint "跳过列表里的可疑条目：$R1"
        ${Continue}
      ${EndIf}
      StrCpy $R2 $R1 1 -1
      ${If} $R2 == "\"
        StrCpy $R1 $R1 -1
        RMDir "$R9\$R1"
      ${Else}
        Delete "$R9\$R1"
      ${EndIf}
    ${Loop}
    FileClose $R0
    Delete "$R9\${MANIFEST}"
  ${EndIf}
  Pop $R2
  Pop $R1
  Pop $R0
  Pop $R9
FunctionEnd

; Pushes 1 if the path on the stack stays inside the folder it is appended to, else 0.
Function IsPlainRelativePath
  Exch $0
  Push $1
  Push $2
  Push $3
  Push $4
  StrCpy $3 1
  StrCpy $1 $0 1
  ${If} $1 == "\"
  ${OrIf} $1 == "/"
    StrCpy $3 0
  ${EndIf}
  StrLen $2 $0
  StrCpy $1 0
  ${DoWhile} $1 < $2
    StrCpy $4 $0 1 $1
    ${If} $4 == ":"
    ${OrIf} $4 == "*"
    ${OrIf} $4 == "?"
    ${OrIf} $4 == '"'
    ${OrIf} $4 == "<"
    ${OrIf} $4 == ">"
    ${OrIf} $4 == "|"
      StrCpy $3 0
    ${EndIf}
    StrCpy $4 $0 2 $1
    ${If} $4 == ".."
      StrCpy $3 0
    ${EndIf}
    IntOp $1 $1 + 1
  ${Loop}
  StrCpy $0 $3
  Pop $4
  Pop $3
  Pop $2
  Pop $1
  Exch $0
FunctionEnd

; Meike 0.1.0's script installed with the 32-bit registry view and per-user shortcuts: remove its
; registry keys (its "Uninstall.exe" is overwritten by ours) and the shortcuts it made for the account
; that ran it. Its files had no list; the ones this version does not overwrite stay.
Function RemoveOldStyleInstall
  SetRegView 32
  ReadRegStr $0 HKLM "${UNINST_KEY}" "UninstallString"
  ${If} $0 != ""
    DetailPrint "删除 0.1.0 版安装程序留下的注册表项和快捷方式"
    DeleteRegKey HKLM "${UNINST_KEY}"
    DeleteRegKey HKLM "${APP_KEY}\Meike"
    DeleteRegKey /ifempty HKLM "${APP_KEY}"
    SetShellVarContext current
    Delete "$DESKTOP\美客 Meike.lnk"
    Delete "$SMPROGRAMS\美客 Meike\美客 Meike.lnk"
    Delete "$SMPROGRAMS\美客 Meike\美客 Meike 示范诊所.lnk"
    Delete "$SMPROGRAMS\美客 Meike\卸载.lnk"
    RMDir "$SMPROGRAMS\美客 Meike"
    SetShellVarContext all
  ${EndIf}
  SetRegView 64
FunctionEnd

Section "-美客" SecMain
  Call CheckNotRunning  ; again: Meike may have been started while the pages were shown

  ; Upgrade: delete the previous version's program files first, from the list it installed, so no
  ; stale module of the old build is left next to the new one. (Not by running the old uninstaller
  ; silently with _?=: 0.1.0's uninstaller deletes its whole folder recursively, and any uninstaller
  ; also removes the registry entry and shortcuts; the list is plain data this setup checks itself.)
  ${If} $OldDir != ""
  ${AndIf} $OldDir != $INSTDIR
    Push $OldDir
    Call RemoveListedFiles
    Delete "$OldDir\${UNINSTALLER}"
    RMDir "$OldDir"
  ${EndIf}
  Push $INSTDIR
  Call RemoveListedFiles
  Call RemoveOldStyleInstall

  ; The uninstaller and its registry entry come before the files: if copying fails half-way, what is in
  ; the folder is this version's files, the ones this uninstaller knows.
  SetOutPath "$INSTDIR"
  WriteUninstaller "$INSTDIR\${UNINSTALLER}"
  WriteRegStr HKLM "${APP_KEY}" "InstallDir" "$INSTDIR"
  WriteRegStr HKLM "${UNINST_KEY}" "DisplayName" "${APPNAME}"
  WriteRegStr HKLM "${UNINST_KEY}" "DisplayVersion" "${VERSION}"
  WriteRegStr HKLM "${UNINST_KEY}" "Publisher" "${PUBLISHER}"
  WriteRegStr HKLM "${UNINST_KEY}" "DisplayIcon" "$INSTDIR\${EXE},0"
  WriteRegStr HKLM "${UNINST_KEY}" "UninstallString" '"$INSTDIR\${UNINSTALLER}"'
  WriteRegStr HKLM "${UNINST_KEY}" "QuietUninstallString" '"$INSTDIR\${UNINSTALLER}" /S'
  WriteRegStr HKLM "${UNINST_KEY}" "InstallLocation" "$INSTDIR"
  WriteRegDWORD HKLM "${UNINST_KEY}" "NoModify" 1
  WriteRegDWORD HKLM "${UNINST_KEY}" "NoRepair" 1

  !include "${FILELISTS}/install_files.nsh"
  SetOutPath "$INSTDIR"
  File "/oname=${MANIFEST}" "${FILELISTS}/${MANIFEST}"

  ; The clinic's data folder. C:\ProgramData lets a user create files but not change another user's
  ; (CREATOR OWNER), so the built-in Users group (S-1-5-32-545, named by SID: the name is translated on
  ; Chinese Windows) gets Modify on this folder, inherited by what is in it, and every Windows user's
  ; Meike can write the clinic's database. Keep nothing there that Meike loads and runs: every user can
  ; change it. The uninstaller leaves the folder.
  CreateDirectory "${DATADIR}"
  nsExec::ExecToLog '"$SYSDIR\icacls.exe" "${DATADIR}" /grant *S-1-5-32-545:(OI)(CI)M'
  Pop $0
  ${If} $0 != 0
    DetailPrint "警告：没能让所有 Windows 用户都能写入 ${DATADIR}（icacls 返回 $0）。"
  ${EndIf}

  ; Shortcuts for every user ($SMPROGRAMS, $DESKTOP are the all-users folders after SetShellVarContext all).
  CreateDirectory "${STARTMENU}"
  CreateShortcut "${STARTMENU}\美客 Meike.lnk" "$INSTDIR\${EXE}" "" "$INSTDIR\${EXE}" 0
  CreateShortcut "${STARTMENU}\美客 示范诊所.lnk" "$INSTDIR\${EXE}" "--demo" "$INSTDIR\${EXE}" 0
  CreateShortcut "${STARTMENU}\卸载 美客.lnk" "$INSTDIR\${UNINSTALLER}"
  CreateShortcut "$DESKTOP\美客 Meike.lnk" "$INSTDIR\${EXE}" "" "$INSTDIR\${EXE}" 0
  CreateShortcut "$DESKTOP\美客 示范诊所.lnk" "$INSTDIR\${EXE}" "--demo" "$INSTDIR\${EXE}" 0

  ; EstimatedSize in KB: the packed files (summed by nsis_files.py) plus the uninstaller, the one file
  ; written here. Not ${GetSize} over $INSTDIR: installed into a folder that holds other things, that
  ; would count (and walk) all of them.
  ${GetSize} "$INSTDIR" "/M=${UNINSTALLER} /S=0K /G=0" $0 $1 $2
  IntOp $0 $0 + ${MEIKE_PAYLOAD_KB}
  WriteRegDWORD HKLM "${UNINST_KEY}" "EstimatedSize" $0
SectionEnd

; The finish page's "start Meike". The installer runs elevated, and a program it starts would inherit
; its administrator token: Meike would then create the clinic's files as Administrators, keep its
; settings in the profile of the account that approved the elevation (over the shoulder, not the user
; at the desk), not see the user's mapped network drives (where a shared database may live), and refuse
; drag-and-drop from normal windows. explorer.exe hands the start to the shell already running as the
; logged-in user, so Meike starts with the user's normal rights.
Function LaunchAsUser
  Exec '"$WINDIR\explorer.exe" "$INSTDIR\${EXE}"'
FunctionEnd

;--------------------------------------------------------------------------------------------------
; Uninstaller: deletes only what the setup put there, each file by name (never a recursive delete,
; so an install into a folder that holds other things, even a drive's root, loses nothing else).

Function un.onInit
  SetShellVarContext all
  SetRegView 64
  Call un.CheckNotRunning
FunctionEnd

Section "Uninstall"
  Call un.CheckNotRunning
  SetOutPath "$TEMP"  ; not inside the folder being removed

  Delete "$DESKTOP\美客 Meike.lnk"
  Delete "$DESKTOP\美客 示范诊所.lnk"
  Delete "${STARTMENU}\美客 Meike.lnk"
  Delete "${STARTMENU}\美客 示范诊所.lnk"
  Delete "${STARTMENU}\卸载 美客.lnk"
  RMDir "${STARTMENU}"

  !include "${FILELISTS}/uninstall_files.nsh"
  Delete "$INSTDIR\${MANIFEST}"
  Delete "$INSTDIR\${UNINSTALLER}"
  RMDir "$INSTDIR"  ; only if empty

  DeleteRegKey HKLM "${UNINST_KEY}"
  DeleteRegValue HKLM "${APP_KEY}" "InstallDir"
  DeleteRegKey /ifempty HKLM "${APP_KEY}"

  DetailPrint "诊所的数据保留在 ${DATADIR}。"
SectionEnd
