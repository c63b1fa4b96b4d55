// Tepat gudang: a label print job's progress. Polls the job's JSON and moves the <progress>
// bar; shows the download link when the PDF is ready. No inline script (the CSP forbids it).
"use strict";

(() => {
  const box = document.getElementById("job");
  if (!box) return;
  const bar = document.getElementById("job-progress");
  const state = document.getElementById("job-state");
  const done = document.getElementById("job-done");
  const total = document.getElementById("job-total");
  const error = document.getElementById("job-error");
  const download = document.getElementById("job-download");
  const running = (s) => s === "queued" || s === "running";

  const show = (job) => {
    bar.max = job.total || 1;
    bar.value = job.done;
    bar.textContent = `${job.percent}%`;
    done.textContent = job.done;
    total.textContent = job.total;
    state.textContent = box.getAttribute(`data-text-${job.state}`) || job.state;
    if (job.state === "done" && job.download_url) {
      download.href = job.download_url;
      download.hidden = false;
    }
    if (job.state === "failed") {
      error.textContent = job.message;
      error.hidden = false;
    }
  };

  const poll = () => {
    fetch(box.dataset.statusUrl, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then((response) => (response.ok ? response.json() : Promise.reject(response.status)))
      .then((job) => {
        show(job);
        if (running(job.state)) window.setTimeout(poll, 1000);
      })
      .catch(() => window.setTimeout(poll, 3000));
  };

  if (running(box.dataset.state)) window.setTimeout(poll, 500);
})();
