#!/bin/sh
# Generates every sound file huddle's configs reference, plus the spoken
# clips the demo scenario plays. Nothing here is committed as audio: the
# files are ~1 MB together, so they are made on demand (demo.sh and
# tests/demo.rs run this script) and ignored by git (conf/sounds/.gitignore).
#
#   scripts/make-clips.sh [--force]
#
# Needs espeak-ng (speech) and sox (music, resampling). Idempotent: a file
# that exists is kept unless --force, so repeated runs cost nothing and the
# clips stay byte-identical between the demo and the test.
set -eu

cd "$(dirname "$0")/.."
SOUNDS=conf/sounds
CLIPS=$SOUNDS/demo
FORCE=0
[ "${1:-}" = "--force" ] && FORCE=1

for tool in espeak-ng sox; do
    command -v "$tool" >/dev/null 2>&1 || {
        echo "make-clips: $tool is missing (apt-get install espeak-ng sox)" >&2
        exit 1
    }
done
mkdir -p "$SOUNDS" "$CLIPS"

# say FILE VOICE TEXT: speak TEXT with espeak-ng, as 16 kHz mono 16-bit
# PCM (the default profile's room rate, so the module need not resample).
say() {
    out=$1 voice=$2 text=$3
    if [ "$FORCE" = 0 ] && [ -s "$out" ]; then return; fi
    tmp=$(mktemp --suffix=.wav)
    espeak-ng -v "$voice" -s 165 -w "$tmp" "$text"
    # A short fade avoids clicks; norm keeps every voice at the same level.
    sox -q "$tmp" -r 16000 -c 1 -b 16 "$out" norm -3 fade 0.02 0 0.05
    rm -f "$tmp"
}

# Prompts named in conf/huddle.conf ([profiles.default.sounds]).
say $SOUNDS/pin.wav               en-us+f3 "Please enter your PIN, followed by pound."
say $SOUNDS/bad-pin.wav           en-us+f3 "That PIN is not valid. Please try again."
say $SOUNDS/locked.wav            en-us+f3 "This conference is locked."
say $SOUNDS/muted.wav             en-us+f3 "You are muted."
say $SOUNDS/unmuted.wav           en-us+f3 "You are unmuted."
say $SOUNDS/deaf.wav              en-us+f3 "You can no longer hear the conference."
say $SOUNDS/undeaf.wav            en-us+f3 "You can hear the conference again."
say $SOUNDS/alone.wav             en-us+f3 "You are the only person in the conference."
say $SOUNDS/kicked.wav            en-us+f3 "You have been removed from the conference."
say $SOUNDS/wait-for-host.wav     en-us+f3 "Please wait, the host has not joined yet."
say $SOUNDS/room-full.wav         en-us+f3 "This conference is full."
say $SOUNDS/ended.wav             en-us+f3 "The conference has ended. Goodbye."
say $SOUNDS/denied.wav            en-us+f3 "Only the host can do that."
say $SOUNDS/recording-started.wav en-us+f3 "This conference is being recorded."
say $SOUNDS/recording-stopped.wav en-us+f3 "Recording has stopped."

# Hold music: a slow plucked arpeggio over C, A minor, F and G, with a
# little reverb: 8 seconds that loop without a seam (it ends where it began).
if [ "$FORCE" = 1 ] || [ ! -s $SOUNDS/hold.wav ]; then
    tmpd=$(mktemp -d)
    i=0
    for chord in "C4 E4 G4 C5" "A3 C4 E4 A4" "F3 A3 C4 F4" "G3 B3 D4 G4"; do
        for note in $chord; do
            i=$((i + 1))
            sox -q -n -r 16000 -c 1 -b 16 "$tmpd/$(printf %02d $i).wav" \
                synth 0.5 pluck "$note" vol 0.5
        done
    done
    sox -q "$tmpd"/*.wav "$tmpd/dry.wav"
    sox -q "$tmpd/dry.wav" -r 16000 -c 1 -b 16 $SOUNDS/hold.wav \
        reverb 30 norm -9 fade 0.01 0 0.05
    rm -rf "$tmpd"
fi

# The demo meeting's speech, one voice per person (see conf/scenarios/demo.scn).
say $CLIPS/alice-welcome.wav en-us+f2 "Good morning everyone, this is Alice. Thanks for joining the weekly planning call."
say $CLIPS/bob-update.wav    en-us+m3 "Hi, Bob here. The release branch is ready and all the tests are passing."
say $CLIPS/carol-update.wav  en-gb+f4 "Carol on the line. Marketing needs the final screenshots by Thursday."
say $CLIPS/dave-update.wav   en-us+m7 "This is Dave, calling from the road. The customer signed the contract yesterday."
say $CLIPS/alice-mute.wav    en-us+f2 "I have muted everyone for a moment. Please hold your questions."
say $CLIPS/bob-muted.wav     en-us+m3 "Can anyone hear me? I think I am on mute."
say $CLIPS/alice-unmute.wav  en-us+f2 "Okay, you are all unmuted again. Carol, go ahead."
say $CLIPS/carol-question.wav en-gb+f4 "Thanks. Could we move the design review to Friday afternoon?"
say $CLIPS/alice-bye.wav     en-us+f2 "Friday works. That is all for today. Thank you, and goodbye."
