# ShiftReadys texter på svenska. Samma id och variabler som en.ftl (core/src/i18n.rs testar
# det). Skrivna för den som arbetar hemifrån, inte för IT: du-tilltal, vardagliga ord.

## Kontrollen os

os-unknown-min = ShiftReady vet inte vilken version av { $other } som minst krävs. Fråga IT om den här datorn får användas för samtal.
os-version-unreadable = Det gick inte att läsa av versionen av { $what } ('{ $found }'). Berätta för IT vilket system datorn har.
os-too-old = { $what } { $found } är för gammal (minst { $min } krävs): uppdatera systemet eller be IT om hjälp.
os-restart-pending = Uppdateringar väntar på en omstart: starta om datorn innan passet börjar.
os-linux-kernel = Linux-kärnan

## Kontrollen hardware

hw-cpu-busy = Processorn är belastad till { $pct } %: stäng program som du inte behöver för samtalen.
hw-memory = { $pct } % av minnet används: stäng program och webbläsarflikar som du inte behöver.
hw-disk-low = Bara { $free } GB ledigt diskutrymme: ta bort filer du inte behöver eller kontakta IT.
hw-disk-unknown = Det gick inte att hitta disken där din hemmapp ligger. Säg till IT om det händer igen.
hw-cores = Datorn har { $cores ->
        [one] en processorkärna
       *[other] { $cores } processorkärnor
    }, men minst { $min } krävs: fråga IT om en nyare dator.
hw-battery = Datorn går på batteri: sätt i laddaren innan passet börjar.

## Kontrollen headset

headset-no-audio = Datorn har ingen mikrofon eller högtalare alls: anslut ditt headset. Om det redan är anslutet, kontrollera att ljuddrivrutinen fungerar och att ShiftReady får använda ljudenheterna.
headset-none = Inget headset hittades: anslut ditt headset och välj det som standardmikrofon.
headset-no-mic = { $name } har ingen mikrofon: använd ett headset med mikrofon för samtal.
headset-bluetooth = { $name } är ett Bluetooth-headset, och det tillåts inte där du arbetar: använd ett headset med sladd (USB eller analogt).
headset-default-unknown = Kontrollera att { $name } är vald som standardmikrofon i ljudinställningarna (ShiftReady kunde inte se det: { $why }).
headset-not-default = Ditt headset är anslutet, men datorn använder fortfarande { $other } som mikrofon: välj { $name } som standardmikrofon i ljudinställningarna.{ $fix ->
        [yes] { " " }Du kan också köra `shiftready fix` (eller välja ”Åtgärda” i menyn i aktivitetsfältet) så ordnar ShiftReady det åt dig.
       *[no] { "" }
    }
headset-output = Ljudet spelas upp i { $other } och inte i ditt headset: välj { $name } som standardhögtalare i ljudinställningarna.{ $fix ->
        [yes] { " " }Du kan också köra `shiftready fix` (eller välja ”Åtgärda” i menyn i aktivitetsfältet) så ordnar ShiftReady det åt dig.
       *[no] { "" }
    }
headset-comm-not-default = { $name } är standardenhet för kommunikation, men appar som använder standardenheten (webbläsare, många mjukvarutelefoner) använder fortfarande { $other }: välj { $name } som ”Standardenhet” i ljudinställningarna också.{ $fix ->
        [yes] { " " }Du kan också köra `shiftready fix` (eller välja ”Åtgärda” i menyn i aktivitetsfältet) så ordnar ShiftReady det åt dig.
       *[no] { "" }
    }
headset-not-comm-default = { $name } är standardmikrofon, men samtalsappar som använder kommunikationsenheten använder fortfarande { $other }: välj { $name } som ”Standardenhet för kommunikation” i ljudinställningarna också.{ $fix ->
        [yes] { " " }Du kan också köra `shiftready fix` (eller välja ”Åtgärda” i menyn i aktivitetsfältet) så ordnar ShiftReady det åt dig.
       *[no] { "" }
    }
headset-comm-output = Samtalsappar spelar upp den du pratar med i { $other } och inte i ditt headset: välj { $name } som ”Standardenhet för kommunikation” för uppspelning i ljudinställningarna.{ $fix ->
        [yes] { " " }Du kan också köra `shiftready fix` (eller välja ”Åtgärda” i menyn i aktivitetsfältet) så ordnar ShiftReady det åt dig.
       *[no] { "" }
    }
headset-another-device = en annan enhet

## Kontrollen network

net-udp-blocked = UDP till HQ blockeras (brandvägg eller VPN): röstsamtal kommer inte att fungera
net-hq-unreachable = Det går inte att nå HQ alls: kontrollera att internet fungerar, och säg till IT om webbsidor öppnas som vanligt.
net-reflector-silent = Mätservern (reflektorn) svarade inte: kontrollera adressen och att ingen brandvägg eller VPN blockerar UDP.
net-dns-failed = Datorn kan inte slå upp HQ:s adress (DNS): starta om routern, och säg till IT om webbsidor öppnas som vanligt.
net-no-hq = Inget HQ är inställt, så nätverket kan inte mätas: registrera datorn med `shiftready enroll --hq URL --token-file FILE`, eller mät mot en egen reflektor med `shiftready probe --reflector HOST:PORT`.
net-send-failed = Datorn kan inte skicka något till HQ (ingen väg dit): kontrollera att du är ansluten till internet.
net-home-wifi = Felet ligger i ditt hemnätverk (svagt eller överbelastat wifi): anslut en nätverkskabel eller sätt dig närmare routern, och pausa stora nedladdningar hemma.
net-home-line = Felet ligger i ditt hemnätverk (routern eller att någon hemma använder mycket av linjen): pausa nedladdningar och streaming hemma, och starta om routern.
net-beyond-home = Felet ligger utanför ditt hemnätverk (hos din internetleverantör eller på vägen till HQ): starta om routern, och ring leverantören om problemet finns kvar.
net-generic = Anslutningen är inte tillräckligt bra för samtal: använd en nätverkskabel, pausa nedladdningar hemma och starta om routern.
net-wired-required = Där du arbetar krävs en trådbunden anslutning: anslut en nätverkskabel till datorn.
net-nothing-answers = Ingenting svarar på { $reflector }: kontrollera reflektorns adress (`hq.reflector` i agentens inställningar), och säg till IT om den stämmer.
net-https-failed = Rösttrafiken kommer fram, men HQ:s webbplats svarar inte: kontrollera din VPN, och säg till IT om det fortsätter.
net-probe-timeout = Nätverksmätningen blev inte klar inom { $seconds } s. Försök igen, och säg till IT om det fortsätter.
net-bufferbloat = Samtalen hackar så fort linjen är hårt belastad (den blev { $ms } ms långsammare under belastning): om någon hemma laddar upp eller streamar, pausa det under ditt pass, eller be din internetleverantör om en router med smart köhantering (SQM).

## Kontrollen noise

noise-dead-input = Ingen signal från mikrofonen: slå på den igen om den är avstängd, eller kontrollera mikrofonbehörigheten i systemets inställningar.
noise-voices = Röster eller tv i bakgrunden: stäng dörren eller flytta dig längre bort.
noise-impulsive = Skällande, knackningar eller smällar i bakgrunden: stäng dörren eller gå till ett rum längre bort.
noise-hum = Brum från elnätet: kontrollera headsetets sladd och dra ur laddare som ligger nära den.
noise-steady = Jämnt bakgrundsljud (fläkt, luftkonditionering eller trafik): stäng av det, stäng fönstret eller gå till ett tystare rum.
noise-too-loud = Det är för mycket ljud i rummet för samtal: stäng dörr och fönster eller gå till ett tystare rum.
noise-clipped = Mikrofonen är överstyrd: sänk dess inspelningsvolym i ljudinställningarna.
noise-no-device = Ingen mikrofon hittades: anslut ditt headset och välj det som standardmikrofon.
noise-not-found = Den valda mikrofonen är inte ansluten: anslut ditt headset, eller välj en som `shiftready devices` visar (`audio.input_device` i agentens inställningar).
noise-no-audio = Datorn har ingen mikrofon alls, så bakgrundsljudet kan inte mätas: anslut ditt headset.
noise-permission = ShiftReady får inte använda mikrofonen: ge ShiftReady åtkomst till mikrofonen i systemets sekretessinställningar.
noise-open = Mikrofonen gick inte att öppna: stäng andra program som använder den, eller dra ur headsetet och sätt i det igen.
noise-stalled = Mikrofonen slutade skicka ljud: dra ur headsetet och sätt i det igen, och kör sedan kontrollen en gång till.

## Kontrollrapporten i terminalen (src/commands/render.rs)

mark-pass = ✔ ok
mark-warn = ! varning
mark-fail = ✘ fel
mark-error = ? okänt
check-os = system
check-hardware = dator
check-network = nätverk
check-headset = headset
check-noise = ljudmiljö
headline-ready = REDO för samtal
headline-degraded = REDO, men med varningar: åtgärda dem när du kan
headline-not-ready = INTE REDO för samtal: åtgärda det som är markerat med ✘
headline-unknown = OKÄNT: några kontroller kunde inte göras
progress-checking = kontrollerar…
value-yes = ja
value-no = nej
value-none = –
noise-class-quiet = tyst
noise-class-steady = jämnt bakgrundsljud (fläkt, luftkonditionering, trafik)
noise-class-hum = brum från elnätet
noise-class-voices = röster eller tv
noise-class-impulsive = knackningar, smällar eller hundskall
noise-class-dead-input = tyst (ingen signal)
fig-rtt = svarstid
fig-jitter = jitter
fig-loss = förlust
fig-mos = MOS
fig-not-measured = kunde inte mäta { $what }
fig-level = { $level } dBFS(A)
fig-level-limit = { $level } dBFS(A), gräns { $limit }
fig-cpu = CPU { $v } %
fig-cores = { $v ->
        [one] { $v } kärna
       *[other] { $v } kärnor
    }
fig-ram = minne { $v } % använt
fig-disk = disk { $v } GB ledigt
fig-power = ström: { $v }
power-ac = nätström
power-battery = batteri
transport-built-in = inbyggt

## shiftready status (src/commands/render.rs render_status)

status-state = Läge:
status-signed-in = Inloggad:
status-readiness = Redo:
status-fix-first = Åtgärda först:
status-shift = Pass:
status-next-shift = Nästa pass:
status-hq = HQ:
status-incidents = Problem:
status-set-aside = Undanlagt:
state-ready = redo för samtal
state-degraded = redo för samtal, men med varningar
state-not-ready = inte redo för samtal
state-not-checked = inloggad, inte kontrollerad ännu
state-unknown = inloggad; några kontroller kunde inte göras
state-signed-out = utloggad
state-offline = offline: det går inte att nå HQ
status-not-checked = inte kontrollerad ännu
status-checked = { $readiness } (kontrollerad { $when })
readiness-ready = redo
readiness-degraded = redo med varningar
readiness-not-ready = inte redo
readiness-unknown = okänt
status-shift-until = till { $end }
status-no-shift = inget just nu
status-hq-waiting = { $hq } ({ $events ->
        [one] 1 händelse väntar
       *[other] { $events } händelser väntar
    })
status-set-aside-events = { $events ->
        [one] 1 händelse
       *[other] { $events } händelser
    } som HQ har avvisat för gott (sparade i köns karantän)
status-delivery-paused = Överföringen till HQ är pausad. Inga händelser går förlorade, och den fortsätter när datorn har registrerats igen.
hq-none = inget HQ inställt
hq-connected = ansluten
hq-unreachable = går inte att nå
hq-must-enroll = datorn måste registreras igen
incident-headset-gone = headsetet är borta
incident-network-degraded = nätverket är för dåligt
incident-noisy-room = för mycket ljud i rummet
incident-hq-unreachable = HQ går inte att nå
incident-events-rejected = HQ avvisar händelser

## shiftready fix (src/commands/render.rs render_fix)

fix-nothing = Inget att ändra: headsetet är redan standardenhet, mikrofonen är påslagen och volymen är uppskruvad.
fix-would-change = Det här skulle ändras (inget är ändrat ännu; kör `shiftready fix` för att göra det):
fix-changed = Ändrat:
fix-default-input = { $name } är nu standardmikrofon (tidigare: { $was }).
fix-unmute-input = Mikrofonen i { $name } är inte längre avstängd.
fix-input-volume = Mikrofonvolymen för { $name } har höjts från { $from } % till 100 %.
fix-default-output = { $name } är nu standardhögtalare (tidigare: { $was }).
fix-unmute-output = Ljudet i { $name } är inte längre avstängt.
fix-default-comm-input = { $name } är nu standardmikrofon för kommunikation, den som samtalsappar använder (tidigare: { $was }).
fix-default-comm-output = { $name } är nu standardhögtalare för kommunikation, den som samtalsappar använder (tidigare: { $was }).
fix-default-alerts-output = { $name } spelar nu även upp varningsljud (tidigare: { $was }).
fix-no-device = ingen
fix-no-headset = Inget headset hittades: anslut ditt headset (ett Bluetooth-headset måste vara anslutet, inte bara parkopplat) och försök sedan igen.
fix-refused = Ljudsystemet godtog inte en ändring ({ $why }): öppna ljudinställningarna och välj ditt headset som standardenhet där.
fix-already-changed = ; redan ändrat: { $changes }
fix-no-sound-server = ShiftReady kan bara ändra ljudinställningarna via PulseAudio eller PipeWire, och inget av dem svarar här ({ $why }): öppna ljudinställningarna och välj ditt headset som standardmikrofon och standardhögtalare.
fix-unsupported-os = ShiftReady kan inte ändra ljudinställningarna i det här systemet än: öppna ljudinställningarna och välj ditt headset som standardmikrofon och standardhögtalare (i Windows både som ”Standardenhet” och ”Standardenhet för kommunikation”).
fix-unsupported-here = Att byta standardljudenhet stöds inte här ({ $why }): öppna ljudinställningarna och välj ditt headset som standardmikrofon och standardhögtalare där (i Windows både som ”Standardenhet” och ”Standardenhet för kommunikation”).

## Rapportsidan på datorn (templates/report.html, src/daemon/report_page.rs)

page-title = ShiftReady – rapport
page-state = Läge:
page-checked-at = Kontrollerad
page-caption = Alla kontroller, resultatet och vad du behöver göra
page-check = Kontroll
page-result = Resultat
page-what-to-do = Vad du behöver göra
page-no-check = Ingen kontroll har gjorts ännu. Välj ”{ tray-run-check }” i ShiftReady-menyn.
page-pass = Godkänd
page-warn = Varning
page-fail = Underkänd
page-error = Kunde inte kontrolleras
page-ready = Redo: din dator är redo för samtal.
page-degraded = Redo med varningar: du kan ta samtal, men åtgärda varningarna nedan.
page-not-ready = Inte redo: åtgärda felen nedan innan du tar samtal.
page-unknown = Okänt: några kontroller kunde inte göras, se nedan.
page-nothing = Inget.
page-state-offline = offline

## Menyn i aktivitetsfältet (src/tray/ui.rs)

tray-run-check = Kontrollera nu
tray-fix = Åtgärda
tray-sign-in = Logga in
tray-sign-out = Logga ut
tray-report = Visa senaste rapporten
tray-open-hq = Öppna HQ
tray-quit = Avsluta
tray-fix-nothing = Inget att åtgärda
tray-fix-nothing-body = Headsetet är redan standardenhet, mikrofonen är påslagen och volymen är uppskruvad.
tray-fix-done = Ljudinställningarna är åtgärdade
tray-fix-failed = Det gick inte att åtgärda ljudinställningarna

## Verktygstipset i aktivitetsfältet (src/tray/mod.rs)

tip-ready = Redo för samtal
tip-degraded = Redo, men med varningar
tip-not-checked = Inte kontrollerad ännu
tip-unknown = Okänt om datorn är redo
tip-not-ready = Inte redo för samtal
tip-offline = Offline: det går inte att nå HQ
tip-signed-out = Utloggad
tip-shift-until = Passet pågår till { $end }
tip-next-shift = Nästa pass { $day } { $start }–{ $end }
tip-no-shift = Inget pass inplanerat
tip-signed-in-word = inloggad
tip-signed-out-word = utloggad
tip-fix-first = Åtgärda först: { $fix }

## Veckodagar, korta (verktygstipset, `status`, aviseringar)

day-mon = mån
day-tue = tis
day-wed = ons
day-thu = tors
day-fri = fre
day-sat = lör
day-sun = sön

## Aviseringar på skrivbordet (src/daemon/core.rs)

note-signed-in = Du är inloggad
note-signed-in-body = ShiftReady har loggat in dig på ditt pass.
note-not-ready-for-shift = Datorn är inte redo för ditt pass
note-shift-starts = Ditt pass börjar { $start }. Åtgärda det här först: { $fix }
note-not-signed-in = Du är inte inloggad
note-bar-not-met = Du är inte inloggad än. Åtgärda det här: { $fix } ShiftReady kontrollerar igen kl. { $at }.
note-action-needed = Något behöver åtgärdas
note-run-check = kör `shiftready check` så ser du vad det gäller.
note-see-report = titta i rapporten (`shiftready check`).

## Svaren på sign-in, sign-out, status och menyn (src/daemon/core.rs, src/ipc.rs)

ipc-signed-in = Du är inloggad.
ipc-already-signed-in = Du var redan inloggad.
ipc-signed-out = Du är utloggad.
ipc-not-signed-in = Du var inte inloggad.
ipc-check-finished = Kontrollen är klar: { $readiness }.
ipc-refused-below-bar = Du har inte loggats in: där du arbetar går det inte att logga in när datorn inte uppfyller kraven för samtal.
ipc-not-checked-yet = ShiftReady har inte kontrollerat datorn än (kravet där du arbetar: { $bar }): välj ”{ tray-run-check }” i menyn i aktivitetsfältet, eller vänta tills kontrollen har körts före passet.
ipc-below-bar = Datorn är inte redo för samtal (läge: { $readiness }; kravet där du arbetar: { $bar }).
ipc-fix-this-first = Åtgärda det här först: { $fix }
bar-ready = redo
bar-degraded = redo med varningar
bar-any = inget krav
fix-first-check = kontrollen { $check } ({ $status }).
fix-first-again = kör kontrollen en gång till.
fix-first-text = { $hint }
word-pass = ok
word-warn = varning
word-fail = fel
word-error = kunde inte göras
ipc-enroll-again = Datorn måste registreras igen (IT ger dig hemligheten och en kod för att registrera just den här datorn igen): shiftready enroll --hq { $hq } --token-file FILE --code-file CODE

## Fel som du kan åtgärda (src/commands/errors.rs)

err-daemon-not-running = ShiftReady körs inte för den här användaren (inget svarar på { $endpoint }: { $detail }). Starta det med `shiftready run`.
err-daemon-no-answer = ShiftReady svarade inte: { $detail }
err-daemon-closed = ShiftReady stängde anslutningen utan att svara (det håller kanske på att avslutas, eller körs som en annan användare).
err-hq-unreachable = Det går inte att nå HQ på { $url } ({ $detail }). Kontrollera att internet fungerar och att hq.url stämmer.
err-hq-timeout = HQ på { $url } svarade inte inom { $seconds } s. Försök igen om en stund.
err-hq-tls = Den säkra anslutningen till HQ på { $url } misslyckades ({ $detail }). Kontrollera hq.url och hq.ca_file, eller kontakta IT.
err-hq-not-enrolled = Datorn är inte registrerad hos HQ. Kör `shiftready enroll --hq URL --token-file FILE`.
err-hq-unknown-key = HQ känner inte igen datorns nyckel. Kör `shiftready enroll` igen med arbetsplatsens hemlighet.
err-hq-revoked = IT har spärrat datorns nyckel. Fråga IT innan du registrerar datorn igen.
err-hq-reenroll = IT vill att datorn registreras igen. Kör `shiftready enroll --hq URL --token-file FILE`.
err-hq-bad-secret = HQ godtog inte hemligheten för registrering. Be IT om arbetsplatsens aktuella hemlighet.
err-hq-rate-limited = HQ tar emot för många förfrågningar just nu. Vänta en minut och försök igen.
err-hq-retry-after = HQ är upptaget och ber dig vänta { $seconds } s.
err-hq-server = Det blev ett fel hos HQ ({ $status }): { $message }. Försök igen om en stund.
err-config-problems = { $file } innehåller { $problems ->
        [one] ett fel
       *[other] { $problems } fel
    }:
err-config-key = { $at }: inställningen `{ $key }`: { $problem }

## shiftready enroll (src/commands/enroll.rs)

enroll-failed = registreringen misslyckades
enroll-refused = registreringen misslyckades, HQ godtog den inte: { $message }
enroll-bad-hq = --hq '{ $hq }': ange hela adressen, till exempel https://hq.example.com
enroll-code-ignored = varning: HQ använde inte koden för ny registrering (HQ kan vara äldre än ShiftReady på datorn). Fråga IT vilken enhet den här datorn är registrerad som.
enroll-not-saved = HQ har registrerat datorn, men nyckeln kunde inte sparas i { $path }: { $error }
enroll-done = Datorn är registrerad hos HQ på { $hq } som enhet { $device }.
enroll-done-again = Datorn är registrerad igen hos HQ på { $hq } som enhet { $device } (samma enhet, så historiken finns kvar).
enroll-note = Meddelande från HQ: { $note }
enroll-key-file = Datorns nyckel finns i { $path } (bara du kan läsa den).

## shiftready devices (src/commands/devices.rs)

devices-cannot-list = det gick inte att lista ljudenheterna: { $error }
devices-header = Ljudenheter ({ $backend }):
devices-none = (inga)
devices-default-input = standardmikrofon
devices-default-output = standardhögtalare
devices-by = enligt { $source }
devices-defaults-unknown = Det gick inte att se vilka enheter som är standard: { $why }

## shiftready check (src/commands/check.rs)

check-sent = Rapporten är skickad till HQ.
check-not-sent = varning: rapporten kunde inte skickas till HQ: { $error }

## shiftready report-drop och menyns ”Rapportera ett tappat samtal” (src/commands/report_drop.rs, src/daemon/samples.rs, src/tray/ui.rs)

tray-report-drop = Rapportera ett tappat samtal
tray-drop-reported = Tappat samtal rapporterat
tray-drop-failed = Det tappade samtalet registrerades inte
drop-recorded = Det tappade samtalet är registrerat för IT, med { $seconds ->
        [one] den senaste sekunden
       *[other] de senaste { $seconds } sekunderna
    } av datorns nätverkshistorik. Det skickas till HQ vid nästa leverans (referens { $id }).
drop-recorded-no-history = Det tappade samtalet är registrerat för IT. ShiftReady har ingen nätverkshistorik från de senaste 15 minuterna att lägga till: linjen mäts medan du är inloggad på ett pass. Det skickas till HQ vid nästa leverans (referens { $id }).
drop-not-recorded = Det tappade samtalet kunde inte registreras: tjänsten kunde inte skriva till sin händelsekö (dess logg säger varför).
drop-note-too-long = Anteckningen är { $chars } tecken lång; ett tappat samtal får ha högst { $max }. Korta den och försök igen.

## shiftready --help (src/cli.rs)

help-about = Kontrollerar att datorn är redo för samtal, och loggar in dig på och ut från dina pass
help-opt-config = Agentens inställningsfil (TOML; standardvärdena står i config/agent.toml). Utan den: din egen fil (~/.config/shiftready/agent.toml) om den finns, annars /etc/shiftready/agent.toml om den finns, annars de inbyggda standardvärdena
help-opt-lang = Språket som ShiftReady använder: en eller sv. Utan det: `[agent] language` i agentens inställningar, annars datorns språk, annars engelska. JSON och det som skickas till HQ är alltid på engelska
help-check = Hela kontrollen före passet. Slutkod 0 redo, 1 redo med varningar, 2 inte redo, 3 okänt
help-check-json = Skriv rapporten som JSON
help-check-only = Kör bara de här kontrollerna (kommaseparerade: os,hardware,network,headset,noise)
help-check-no-send = Skicka inte rapporten till HQ, inte ens när datorn är registrerad
help-noise = Bara kontrollen av bakgrundsljudet, från mikrofonen eller en WAV-fil
help-noise-file = Analysera den här WAV-filen i stället för mikrofonen
help-noise-seconds = Hur många sekunder som spelas in, minst 1 (annars enligt policyn)
help-noise-device = Mikrofonen (namnet eller en del av det); annars den i inställningarna, eller datorns standardmikrofon
help-noise-json = Skriv resultatet som JSON
help-probe = Bara mätningen av rösttrafiken (UDP)
help-probe-reflector = UDP-reflektorn, VÄRD:PORT (annars HQ:s)
help-probe-seconds = Hur många sekunder som mäts, minst 1 (annars enligt policyn)
help-probe-json = Skriv resultatet som JSON
help-devices = Ljudenheterna och vad som är känt om var och en
help-devices-json = Skriv ut exakt ett JSON-dokument
help-fix = Gör headsetet till standardmikrofon och standardhögtalare, slår på ljudet om det är avstängt och höjer en mikrofonvolym som står nästan på noll, och kör sedan headsetkontrollen igen. Talar om exakt vad som ändrades. Slutkod 0–3 som headsetkontrollen efteråt, 69 när ShiftReady inte kan ändra ljudinställningarna på den här datorn
help-fix-dry-run = Tala om vad som skulle ändras, men ändra ingenting
help-fix-json = Skriv ut exakt ett JSON-dokument
help-enroll = Byter arbetsplatsens registreringshemlighet mot en egen nyckel för den här datorn
help-enroll-hq = HQ:s adress
help-enroll-token = Arbetsplatsens registreringshemlighet direkt på kommandoraden (andra som använder datorn kan se den i processlistan medan registreringen pågår: använd hellre --token-file eller SHIFTREADY_ENROLL_TOKEN)
help-enroll-token-file = Läser arbetsplatsens registreringshemlighet från en fil (`-` för standard in)
help-enroll-code-file = Läser engångskoden som du fick av IT för att registrera datorn igen (`shiftready-hq device reenroll`) från en fil (`-` för standard in); eller sätt SHIFTREADY_REENROLL_CODE. Med koden tar datorn över den enhet som IT bad dig registrera igen, och historiken finns kvar
help-run = Själva ShiftReady i bakgrunden, med en ikon i aktivitetsfältet om du inte anger --headless
help-run-headless = Ingen ikon i aktivitetsfältet (servrar, tester, SSH)
help-sign-in = Ber ShiftReady i bakgrunden att logga in dig på passet. Om datorn inte uppfyller arbetsplatsens krav får du veta vad du ska åtgärda först; slutkod 0 inloggad, 2 nekad eftersom arbetsplatsens policy (`shift.manual_sign_in_below_bar = "refuse"`) inte tillåter inloggning under kravet, 69 ShiftReady körs inte
help-sign-in-json = Skriv ut exakt ett JSON-dokument
help-sign-out = Ber ShiftReady i bakgrunden att logga ut dig från passet
help-sign-out-json = Skriv ut exakt ett JSON-dokument
help-status = Visar läget i ShiftReady i bakgrunden
help-status-json = Skriv ut exakt ett JSON-dokument
help-report-drop = Talar om för ShiftReady i bakgrunden att ett samtal just bröts: det sparar datorns nätverkshistorik för de senaste 15 minuterna, headsetet och bakgrundsljudet, med din kommentar, åt IT. Slutkod 0 sparat, 64 en kommentar på över 1000 tecken, 69 ShiftReady körs inte
help-report-drop-note = Vad som hände, med dina egna ord (högst 1000 tecken)
help-report-drop-json = Skriv ut exakt ett JSON-dokument
help-heading-usage = Användning
help-heading-options = Alternativ
help-heading-commands = Kommandon
help-usage-options = ALTERNATIV
help-usage-command = KOMMANDO
help-flag-help = Visa hjälpen
help-flag-version = Visa versionen
help-value-file = FIL
help-value-lang = SPRÅK
help-value-names = NAMN
help-value-name = NAMN
help-value-host-port = VÄRD:PORT
help-value-secret = HEMLIGHET
help-value-path = SÖKVÄG
help-value-text = TEXT
help-value-seconds = SEKUNDER
help-error = fel
help-error-unknown-argument = det finns inget alternativ som heter '{ $arg }'
help-error-unknown-command = det finns inget kommando som heter '{ $arg }'
help-error-invalid-value = '{ $value }' är inte ett giltigt värde för '{ $arg }'
help-error-missing = de här måste anges: { $arg }
help-error-more = Mer hjälp får du med '--help'.

## Fler fel som du kan åtgärda (src/commands/errors.rs)

err-secret-how = ange arbetsplatsens registreringshemlighet på exakt ett sätt: --token-file SÖKVÄG (`-` för standard in), miljövariabeln SHIFTREADY_ENROLL_TOKEN eller --token HEMLIGHET
err-secret-missing = Ingen registreringshemlighet angavs: { err-secret-how }.
err-secret-several = Registreringshemligheten angavs på { $count } sätt ({ $ways }): { err-secret-how }.
err-secret-unreadable = --token-file: det gick inte att läsa registreringshemligheten från { $what }: { $detail }
err-secret-too-long = --token-file: { $what } är längre än { $max } byte. Filen får bara innehålla registreringshemligheten.
err-secret-not-text = --token-file: { $what } är ingen textfil. Den får bara innehålla registreringshemligheten.
err-secret-empty = { $what }: registreringshemligheten är tom.
err-secret-not-one-word = { $what }: registreringshemligheten ska vara ett enda ord (den innehåller mellanslag eller flera rader).
err-hq-redirected = HQ på { $url } svarade { $status } och ville skicka förfrågan vidare till { $location }. Datorns nyckel skickas aldrig vidare efter en omdirigering: ställ in hq.url på HQ:s riktiga adress (https://...).
err-hq-rejected = HQ avvisade förfrågan ({ $status }): { $message }
err-hq-bad-response = Det gick inte att förstå HQ:s svar ({ $detail }). Är hq.url verkligen adressen till ShiftReady HQ?
err-lock-open = Det gick inte att öppna låsfilen { $path }: { $detail }
err-lock-held = ShiftReady körs redan för den här användaren (process { $pid }, låsfil { $path }). Använd `shiftready status` för att se vad det gör.
err-state-dir = Det gick inte att skapa mappen där ShiftReady sparar sina uppgifter, { $path }: { $detail }
err-wav-open = Det gick inte att läsa { $path }: { $detail }
err-wav-format = { $path } är ingen WAV-fil som ShiftReady kan läsa ({ $reason })
err-wav-truncated = { $path } är ofullständig: filhuvudet utlovar mer ljud än filen innehåller
err-wav-empty = { $path } innehåller inget ljud
err-wav-unsupported = { $path }: { $what } stöds inte (ShiftReady läser { $supported })
err-io-not-found = filen eller mappen finns inte
err-io-permission-denied = du har inte behörighet
err-only-unknown = --only: det finns ingen kontroll som heter '{ $name }' (kontrollerna är { $names })
err-seconds-range = --seconds { $given }: ange ett antal sekunder från { $min } till { $max } ({ $why })
err-seconds-why-noise = en kortare inspelning räcker inte för att bedöma bakgrundsljudet
err-seconds-why-probe = en kortare mätning kan inte mäta jitter och paketförlust
err-noise-file-short = { $path } innehåller bara { $held } s ljud: för kort för att bedöma bakgrundsljudet (minst { $min } s behövs)

## Fel i en inställningsfil (proto/src/load.rs, src/config.rs)

cfg-not-toml = det här är inte giltig TOML: { $detail }
cfg-unreadable = det gick inte att läsa filen: { $detail }
cfg-unknown-key = det finns ingen inställning som heter '{ $key }' här (de som finns är { $expected })
cfg-unknown-key-none = det finns ingen inställning som heter '{ $key }' här (här finns inga inställningar alls)
cfg-missing-key = inställningen '{ $key }' saknas
cfg-wrong-value = { $want } ({ $found })
cfg-not-a-choice = { $value } finns inte bland valen: { $choices }
cfg-want-unsigned = ska vara ett heltal, 0 eller större
cfg-want-integer = ska vara ett heltal
cfg-want-number = ska vara ett tal
cfg-want-bool = ska vara true eller false
cfg-want-text = ska vara text inom citattecken
cfg-want-list = ska vara en lista inom hakparenteser, till exempel ["a", "b"]
cfg-want-table = ska vara en tabell med inställningar
cfg-found-text = nu är det texten { $value }
cfg-found-number = nu är det talet { $value }
cfg-found-list = nu är det en lista
cfg-found-table = nu är det en tabell
cfg-found-other = nu är det { $value }
cfg-url-scheme = '{ $url }' måste börja med https:// (eller http:// vid ett lokalt test)
cfg-host-port-v6 = '{ $value }' ska skrivas VÄRD:PORT, till exempel [::1]:8637
cfg-host-port = '{ $value }' ska skrivas VÄRD:PORT, till exempel hq.example.com:8637
cfg-port = '{ $value }': porten '{ $port }' ska vara ett tal från 1 till 65535
cfg-no-host = '{ $value }' saknar värdnamn före ':'
cfg-timeout = { $value } ska vara mellan 0 och 600 sekunder
cfg-calibration = ska vara ett antal dB mellan −200 och 200
cfg-interval = { $value } ska vara mellan { $min } och 86400 sekunder
cfg-noise-interval = ska vara 0 (av) eller minst 10 sekunder
cfg-spool-bytes = ska vara minst 65536 byte

## Rapportsidans ”Åtgärda” (src/daemon/report_page.rs)

page-fix-intro = ShiftReady kan göra ditt headset till standardmikrofon och standardhögtalare åt dig, slå på ljudet och skruva upp mikrofonen.
page-fix-button = Åtgärda
page-fix-changed = Det här ändrade ShiftReady
page-fix-after = Tabellen nedan visar headsetkontrollen efter ändringen.
page-fix-stale = Sidan är inaktuell, så ingenting ändrades: öppna rapporten igen från menyn i ShiftReady och tryck på knappen där.
page-refused = Begäran kom inte från ShiftReadys egen sida, så ingenting gjordes.

## shiftready check under ett pass (src/commands/check.rs)

check-no-load-signed-in = Du är inloggad på ett pass, så den här kontrollen hoppar över testet av din linje under belastning (det fyller linjen i flera sekunder och skulle få ett samtal att hacka). ShiftReady gör testet i kontrollen före ditt nästa pass.
