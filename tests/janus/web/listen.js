// What a page hears, by frequency: the remote stream goes through an
// AnalyserNode; measure() averages the power at each given frequency.
// Injected into our own page and into Janus's AudioBridge demo page alike.
window.hl = window.hl || {
  ctx: null,
  analyser: null,
  attach(stream) {
    if (this.analyser) return;
    // Chromium only pulls a remote WebRTC track through WebAudio while a
    // media element plays it too.
    this.sink = new Audio();
    // Muted: playing the mix would give the sender's echo canceller a far
    // end to suppress its own (fake) microphone against.
    this.sink.muted = true;
    this.sink.srcObject = stream;
    this.sink.play().catch(() => {});
    this.ctx = new AudioContext({ sampleRate: 48000 });
    this.analyser = this.ctx.createAnalyser();
    this.analyser.fftSize = 8192;
    this.analyser.smoothingTimeConstant = 0;
    this.ctx.createMediaStreamSource(stream).connect(this.analyser);
    this.ctx.resume();
  },
  async measure(ms, freqs) {
    const bins = new Float32Array(this.analyser.frequencyBinCount);
    const acc = freqs.map(() => 0);
    let n = 0;
    const end = performance.now() + ms;
    while (performance.now() < end) {
      this.analyser.getFloatFrequencyData(bins);
      freqs.forEach((f, i) => {
        const k = Math.round((f * this.analyser.fftSize) / this.ctx.sampleRate);
        let peak = -Infinity;
        for (let j = k - 2; j <= k + 2; j++) peak = Math.max(peak, bins[j]);
        acc[i] += Math.pow(10, peak / 10);
      });
      n++;
      await new Promise((r) => setTimeout(r, 50));
    }
    return acc.map((a) => 10 * Math.log10(a / Math.max(n, 1)));
  },
  async stats(pc) {
    const out = {};
    (await pc.getStats()).forEach((s) => {
      if (s.type === "inbound-rtp" && s.kind === "audio") {
        out.packetsReceived = s.packetsReceived;
        out.totalAudioEnergy = s.totalAudioEnergy;
      }
      if (s.type === "outbound-rtp" && s.kind === "audio") out.packetsSent = s.packetsSent;
    });
    return out;
  },
};
