// The same as samples/Quickstart, from F#: train on built-in data, check it on held-out rows, save and reload
// the model, score with the generated k = 8 kernel.   dotnet run --project samples/FSharpQuickstart -c Release
open System
open System.Diagnostics
open System.IO
open FmCodegen
open FmCodegen.Data
open FmCodegen.IO
open FmCodegen.Kernels
open FmCodegen.Metrics
open FmCodegen.Samples
open FmCodegen.Training

type Task = FmCodegen.FmTask

let fields, valuesPerField = 8, 50

let evaluate (model: FmModel) (data: SparseDataset) =
    let scores = Array.zeroCreate<float32> data.Count
    Fm.ScoreBatch(model, data.Offsets, data.Indices, data.Values, Span scores)
    FmMetrics.Evaluate(Task.BinaryClassification, ReadOnlySpan scores, data.Labels)

let describe (e: FmEvaluation) =
    sprintf "logloss %.4f, AUC %.4f, accuracy %.4f" e.LogLoss e.Auc e.Accuracy

let printEpoch (e: FmEpoch) =
    let validation =
        match e.Validation with
        | null -> ""
        | v -> sprintf ", validation logloss %.4f AUC %.4f" v.LogLoss v.Auc
    printfn "  %s %3d: train logloss %.4f%s" (if e.Refit then "refit" else "epoch") e.Epoch e.TrainLoss validation

[<EntryPoint>]
let main _ =
    // 1. Data drawn from a known FM: 8 categorical fields of 50 values, labels 0/1.
    let struct (train, truth) = ClickData.Generate(200_000, fields, valuesPerField, 4, 42)
    let test = ClickData.Sample(truth, 10_000, fields, valuesPerField, 1043)
    printfn "data: %d training rows, %d test rows, %d features" train.Count test.Count train.NumFeatures

    // 2. Train with the defaults: only the task, k and a seed.
    let options = FmTrainingOptions(Task = Task.BinaryClassification, EmbeddingSize = 8, Seed = 1)
    let result = FmTrainer.Train(train, options, Action<FmEpoch> printEpoch)
    printfn "trained in %.2f s: best epoch %d" result.TrainingSeconds result.BestEpoch

    // 3. Test metrics beside the true model's.
    printfn "test, trained model: %s" (describe (evaluate result.Model test))
    printfn "test, true model:    %s" (describe (evaluate truth test))

    // 4. Save and reload.
    let path = Path.Combine(Path.GetTempPath(), "fsharp-quickstart.fm")
    result.Save(path)
    let model = ModelFiles.Load(path).Model
    printfn "saved %s and reloaded it: %s" path (if model = result.Model then "identical" else "DIFFERENT")

    // 5. Score one example at a time; Fm.Score picks the kernel generated for k = 8.
    let kernel = FmKernels.For 8
    printfn "kernel: %s" (kernel.ToString())
    let mutable sink = 0.0f
    let score () =
        for r in 0 .. test.Count - 1 do
            sink <- sink + Fm.Score(model, test.RowIndices r, test.RowValues r)
    score ()
    let clock = Stopwatch.StartNew()
    let rounds = 20
    for _ in 1 .. rounds do score ()
    let ns = clock.Elapsed.TotalNanoseconds / float (rounds * test.Count)
    printfn "first test row: probability %.4f (label %g)" (Fm.Probability(model, test.RowIndices 0, test.RowValues 0)) test.Labels.[0]
    printfn "latency: %.1f ns per example (%d nonzeros, k = 8, one thread) [checksum %.1f]" ns fields sink
    0
