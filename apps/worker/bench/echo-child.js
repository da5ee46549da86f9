// A child process that answers each line on stdin with the same line on stdout: the least a job
// run in a process of its own can cost the node (one write to the process, one read back).
process.stdin.setEncoding('utf8');
let buffered = '';
process.stdin.on('data', (chunk) => {
  buffered += chunk;
  for (let newline = buffered.indexOf('\n'); newline >= 0; newline = buffered.indexOf('\n')) {
    process.stdout.write(`${buffered.slice(0, newline)}\n`);
    buffered = buffered.slice(newline + 1);
  }
});
