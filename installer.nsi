; 美客 Meike — Windows installer (NSIS 3, Modern UI 2).
; Build first:  pyinstaller --noconfirm --windowed --name Meike --add-data "migrations;migrations" main.py
; then:         makensis installer.nsi
Unicode true
!include "MUI2.nsh"

!define APPNAME "美客 Meike"
!define COMPANY "Meike"
!define VERSION "0.1.0"
!define DISTDIR "dist\Meike"

Name "${APPNAME}"
OutFile "Meike-Setup-${VERSION}.exe"
InstallDir "$PROGRAMFILES64\Meike"
InstallDirRegKey HKLM "Software\${COMPANY}\Meike" "InstallDir"
RequestExecutionLevel admin
SetCompressor /SOLID lzma

!define MUI_ABORTWARNING
!insertmacro MUI_PAGE_WELCOME
!insertmacro MUI_PAGE_DIRECTORY
!insertmacro MUI_PAGE_INSTFILES
!define MUI_FINISHPAGE_RUN "$INSTDIR\Meike.exe"
!insertmacro MUI_PAGE_FINISH
!insertmacro MUI_UNPAGE_CONFIRM
!insertmacro MUI_UNPAGE_INSTFILES
!insertmacro MUI_LANGUAGE "SimpChinese"

Section "Meike" SecMain
  SetOutPath "$INSTDIR"
  File /r "${DISTDIR}\*.*"
  WriteRegStr HKLM "Software\${COMPANY}\Meike" "InstallDir" "$INSTDIR"
  WriteUninstaller "$INSTDIR\Uninstall.exe"
  CreateDirectory "$SMPROGRAMS\${APPNAME}"
  CreateShortcut "$SMPROGRAMS\${APPNAME}\${APPNAME}.lnk" "$INSTDIR\Meike.exe"
  CreateShortcut "$SMPROGRAMS\${APPNAME}\${APPNAME} 示范诊所.lnk" "$INSTDIR\Meike.exe" "--demo"
  CreateShortcut "$SMPROGRAMS\${APPNAME}\卸载.lnk" "$INSTDIR\Uninstall.exe"
  CreateShortcut "$DESKTOP\${APPNAME}.lnk" "$INSTDIR\Meike.exe"
  WriteRegStr HKLM "Software\Microsoft\Windows\CurrentVersion\Uninstall\Meike" "DisplayName" "${APPNAME}"
  WriteRegStr HKLM "Software\Microsoft\Windows\CurrentVersion\Uninstall\Meike" "DisplayVersion" "${VERSION}"
  WriteRegStr HKLM "Software\Microsoft\Windows\CurrentVersion\Uninstall\Meike" "Publisher" "${COMPANY}"
  WriteRegStr HKLM "Software\Microsoft\Windows\CurrentVersion\Uninstall\Meike" "UninstallString" '"$INSTDIR\Uninstall.exe"'
SectionEnd

Section "Uninstall"
  ; The clinic's database lives in the user data directory and is never removed by the uninstaller.
  Delete "$DESKTOP\${APPNAME}.lnk"
  RMDir /r "$SMPROGRAMS\${APPNAME}"
  RMDir /r "$INSTDIR"
  DeleteRegKey HKLM "Software\Microsoft\Windows\CurrentVersion\Uninstall\Meike"
  DeleteRegKey HKLM "Software\${COMPANY}\Meike"
SectionEnd
