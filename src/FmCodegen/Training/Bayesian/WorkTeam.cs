using System.Diagnostics;

namespace FmCodegen.Training.Bayesian;

/// <summary>
/// The sampler's own threads for its fork-join loops: the calling thread and <c>threads - 1</c> workers it starts
/// once, which take the items of each <see cref="Run"/> in any order. A sweep has several short loops (the blocks, the
/// row pass, the test set); a worker waits for the next one spinning for a short while before it sleeps, so a loop
/// starts in about a microsecond instead of going through the thread pool's queue and wake-up. The items of a loop
/// must not depend on which thread, or in which order, they run (the sampler's work items are cut by the data).
/// </summary>
internal sealed class WorkTeam : IDisposable
{
    // how long a worker spins for the next loop before it sleeps (the loops of one sweep follow each other closely)
    private static readonly long SpinTicks = Stopwatch.Frequency / 5_000;

    private readonly Thread[] _workers;
    private readonly object _gate = new();
    private Job? _job;

    // the current loop's number in the upper 32 bits, the next item in the lower ones: an item is claimed only while
    // its loop is current, so a late worker can never take an item of the next loop for the last one's body
    private long _ticket;
    private int _generation;
    private bool _stop;

    public WorkTeam(int threads)
    {
        Threads = Math.Max(1, threads);
        _workers = new Thread[Threads - 1];
        for (int t = 0; t < _workers.Length; t++)
        {
            int index = t + 1;
            _workers[t] = new Thread(() => Work(index)) { IsBackground = true, Name = "fm MCMC worker" };
            _workers[t].Start();
        }
    }

    /// <summary>The threads that run the items, the calling one included.</summary>
    public int Threads { get; }

    /// <summary>body(item, thread) for every item in [0, count); thread is 0 (the caller) .. Threads - 1. Returns when
    /// all are done. With one item, or one thread, the caller runs them in order.</summary>
    public void Run(int count, Action<int, int> body)
    {
        if (count <= 0)
        {
            return;
        }

        if (_workers.Length == 0 || count == 1)
        {
            for (int i = 0; i < count; i++)
            {
                body(i, 0);
            }

            return;
        }

        int generation = _generation + 1;
        var job = new Job(body, count, generation);
        Volatile.Write(ref _ticket, (long)generation << 32);
        Volatile.Write(ref _job, job);
        lock (_gate)
        {
            Volatile.Write(ref _generation, generation);
            Monitor.PulseAll(_gate);
        }

        Take(job, 0);
        var spin = new SpinWait();
        while (Volatile.Read(ref job.Done) < count)
        {
            spin.SpinOnce(sleep1Threshold: -1);
        }

        if (job.Error is { } error)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(error);
        }
    }

    /// <summary>Runs items of <paramref name="job"/> while it is the current loop and has any left.</summary>
    private void Take(Job job, int thread)
    {
        while (true)
        {
            long ticket = Volatile.Read(ref _ticket);
            int item = (int)ticket;
            if ((int)(ticket >> 32) != job.Generation || item >= job.Count)
            {
                return;
            }

            if (Interlocked.CompareExchange(ref _ticket, ticket + 1, ticket) != ticket)
            {
                continue;
            }

            try
            {
                job.Body(item, thread);
            }
            catch (Exception e)
            {
                Interlocked.CompareExchange(ref job.Error, e, null);
            }

            Interlocked.Increment(ref job.Done);
        }
    }

    private void Work(int thread)
    {
        int seen = 0;
        while (true)
        {
            long until = Stopwatch.GetTimestamp() + SpinTicks;
            while (Volatile.Read(ref _generation) == seen && !Volatile.Read(ref _stop))
            {
                if (Stopwatch.GetTimestamp() < until)
                {
                    Thread.SpinWait(32);
                    continue;
                }

                lock (_gate)
                {
                    while (Volatile.Read(ref _generation) == seen && !_stop)
                    {
                        Monitor.Wait(_gate);
                    }
                }
            }

            if (Volatile.Read(ref _stop))
            {
                return;
            }

            seen = Volatile.Read(ref _generation);
            if (Volatile.Read(ref _job) is { } job)
            {
                Take(job, thread);
            }
        }
    }

    public void Dispose()
    {
        lock (_gate)
        {
            _stop = true;
            Monitor.PulseAll(_gate);
        }
    }

    /// <summary>One loop: its body, its item count, its number and how many of its items are done.</summary>
    private sealed class Job(Action<int, int> body, int count, int generation)
    {
        public readonly Action<int, int> Body = body;
        public readonly int Count = count;
        public readonly int Generation = generation;
        public int Done;
        public Exception? Error;
    }
}
