# FGVC-Aircraft 2013b in mmpretrain's layout (mmpretrain.datasets.FGVCAircraft):
# fgvc-aircraft-2013b/data/{images/, images_variant_{trainval,test}.txt, variants.txt}; 100 variants,
# trainval 6,667 / test 3,333 (the usual transfer split, e.g. Kornblith et al., CVPR 2019).
fg_num_classes = 100
fg_train_dataset = dict(type='FGVCAircraft', data_root='data/fgvc-aircraft-2013b', split='trainval')
fg_test_dataset = dict(type='FGVCAircraft', data_root='data/fgvc-aircraft-2013b', split='test')
