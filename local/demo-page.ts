/**
 * The bundled demo meeting: a moving picture with a visible clock, and sound (a tone with a beep each
 * second), so a first recording shows at a glance that video, time and audio all made it into the file.
 */
export const DEMO_PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Demo meeting</title>
<style>
  html, body { margin: 0; height: 100%; overflow: hidden; background: #0f1b2d; font-family: "DejaVu Sans", sans-serif; }
  canvas { display: block; width: 100vw; height: 100vh; }
</style>
</head>
<body>
<canvas id="stage"></canvas>
<script>
  const canvas = document.getElementById('stage');
  const g = canvas.getContext('2d');
  function resize() { canvas.width = innerWidth; canvas.height = innerHeight; }
  addEventListener('resize', resize); resize();
  const t0 = performance.now();
  const people = [
    { name: 'Ada', color: '#ff8c42' }, { name: 'Grace', color: '#4ecdc4' },
    { name: 'Linus', color: '#c77dff' }, { name: 'Margaret', color: '#ffd166' },
  ];
  function frame(now) {
    const t = (now - t0) / 1000, w = canvas.width, h = canvas.height;
    g.fillStyle = '#0f1b2d'; g.fillRect(0, 0, w, h);
    const cols = 2, tileW = w / cols, tileH = (h - 120) / 2;
    people.forEach((p, i) => {
      const x = (i % cols) * tileW, y = 120 + Math.floor(i / cols) * tileH;
      g.fillStyle = '#18263d'; g.fillRect(x + 8, y + 8, tileW - 16, tileH - 16);
      const r = Math.min(tileW, tileH) * (0.18 + 0.04 * Math.sin(t * 3 + i));
      g.fillStyle = p.color; g.beginPath();
      g.arc(x + tileW / 2 + Math.sin(t + i) * tileW * 0.2, y + tileH / 2, r, 0, Math.PI * 2); g.fill();
      g.fillStyle = '#e0e6ef'; g.font = '24px "DejaVu Sans", sans-serif'; g.fillText(p.name, x + 24, y + tileH - 28);
    });
    const clock = new Date().toISOString().slice(11, 23);
    g.fillStyle = '#ffffff'; g.font = 'bold 64px "DejaVu Sans Mono", monospace';
    g.fillText(clock, 24, 84);
    g.font = '24px "DejaVu Sans", sans-serif'; g.fillStyle = '#9fb3c8';
    g.fillText('Demo meeting · frame ' + Math.floor(t * 30), w - 360, 84);
    requestAnimationFrame(frame);
  }
  requestAnimationFrame(frame);

  // Sound: a quiet tone, and a short beep at the start of every second.
  const audio = new AudioContext();
  const tone = audio.createOscillator(); const toneGain = audio.createGain();
  tone.frequency.value = 220; toneGain.gain.value = 0.05; tone.connect(toneGain).connect(audio.destination); tone.start();
  function scheduleBeeps() {
    const start = Math.ceil(audio.currentTime);
    for (let s = start; s < start + 5; s++) {
      const o = audio.createOscillator(), gain = audio.createGain();
      o.frequency.value = 880; gain.gain.value = 0.3;
      o.connect(gain).connect(audio.destination); o.start(s); o.stop(s + 0.1);
    }
  }
  scheduleBeeps(); setInterval(scheduleBeeps, 5000);
  audio.resume();
</script>
</body>
</html>`;
