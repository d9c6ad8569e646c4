"""Mistakes of assignment 08_deep_rnn written into the course's answers (see tests/test_mistakes_as_written.py)."""
_BI = "a, _ = bidirectional_forward(a, None, params, cell)"
_UNI = "a, _ = rnn_forward(a, None, params)"
_LAYERS = (_BI + "   # h0 = None: zeros\n        else:\n            " + _UNI)
_LAST = "from a zero state\n    return a"
_BWD_CALLS = ("g = bidirectional_backward(da, cache.caches[l])\n        else:\n"
              "            g = rnn_backward(da, cache.caches[l])")
_BWD_BODY = ("    da = dh_top                                     # dL/da^[L]\n"
             "    for l in range(L - 1, -1, -1):                  # top layer first\n"
             "        if cache.bidirectional:\n            " + _BWD_CALLS + "\n"
             "        dlayers[l] = g.dparams\n"
             "        da = g.dx                                   # dL/da^[l-1]: the dh of the layer below\n"
             "    return DeepGrads(da, dlayers)\n")

MISTAKES = [
    # deep_forward
    ("deep_forward", _LAYERS, _LAYERS.replace("(a, None, params", "(x, None, params"), "every layer reads x"),
    ("deep_forward", "for params in layers:", "for params in reversed(layers):", "the layers run in reverse order"),
    ("deep_forward", "for params in layers:", "for params in layers[1:]:", "off by one: the first layer is skipped"),
    ("deep_forward", "for params in layers:", "for params in layers[:-1]:", "off by one: the top layer is skipped"),
    ("deep_forward", _LAST, "from a zero state\n        return a",    # return indented into the loop
     "returned the bottom layer's states"),
    ("deep_forward", "        if bidirectional:\n", "        if False:\n", "bidirectional=True is ignored"),
    ("deep_forward", _BI, "a, _ = bidirectional_forward(a, params, cell)",
     "bidirectional_forward called without its h0 argument"),
    # deep_backward
    ("deep_backward", _BWD_CALLS, _BWD_CALLS.replace("(da,", "(dh_top,"), "dh_top is given to every layer"),
    ("deep_backward", "for l in range(L - 1, -1, -1):", "for l in range(L):", "the layers are visited bottom-up"),
    ("deep_backward", "    dlayers = [None] * L\n    ### BEGIN SOLUTION\n" + _BWD_BODY,
     "    dlayers = []\n    ### BEGIN SOLUTION\n" + _BWD_BODY.replace("dlayers[l] = g.dparams", "dlayers.append(g.dparams)"),
     "the gradients in dlayers are in reverse order"),
    ("deep_backward", "for l in range(L - 1, -1, -1):", "for l in range(L - 1, 0, -1):",
     "off by one: the bottom layer is skipped"),
    ("deep_backward", _BWD_BODY,                 # the top layer's gradients taken for layer 0's
     "    grads = []\n" + _BWD_BODY.replace("        dlayers[l] = g.dparams\n",
                                            "        dlayers[l] = g.dparams\n        grads.append(g)\n")
     .replace("return DeepGrads(da, dlayers)", "return DeepGrads(grads[0].dx, dlayers)"),
     "returned the top layer's dx"),
    ("deep_backward", "        if cache.bidirectional:\n", "        if False:\n", "cache.bidirectional is ignored"),
    ("deep_backward", "        da = g.dx   ", "        da = g.dh0  ", "g.dh0 passed down instead of g.dx"),
]

PARTIAL = [
    # the bidirectional option left out
    ("deep_forward", "        if bidirectional:\n", "        if False:\n"),
    ("deep_backward", "        if cache.bidirectional:\n", "        if False:\n"),
]
