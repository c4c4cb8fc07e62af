# ScatSimCLR-16 on stl10: the 16-block adapter of the reference code.
_base_ = ['./scatsimclr8_1xb64-100e_stl10.py']
model = dict(backbone=dict(depth=16))
