"""The server's worker threads: a read runs on one torch thread, a write on the process's count (``work.py``)."""

from __future__ import annotations

import asyncio

import torch

from evomem.service.work import READ_THREADS, Workers


def test_reads_run_on_one_torch_thread_and_writes_keep_the_process_count():
    kept = torch.get_num_threads()
    torch.set_num_threads(2)
    workers = Workers(1)
    try:

        async def threads() -> tuple[int, int, int]:
            read = await workers.read(torch.get_num_threads)  # the reader thread sets 1 ...
            write = await workers.write("alpha", torch.get_num_threads)  # ... a writer started after it keeps 2
            return read, write, await workers.read(torch.get_num_threads)

        assert asyncio.run(threads()) == (READ_THREADS, 2, READ_THREADS)
        assert workers.write_threads == 2
    finally:
        workers.close()
        torch.set_num_threads(kept)
