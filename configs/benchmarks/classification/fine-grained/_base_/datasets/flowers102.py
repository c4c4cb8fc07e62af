# Oxford Flowers-102 in mmpretrain's layout (mmpretrain.datasets.Flowers102): Flowers102/{jpg/image_%05d.jpg,
# imagelabels.mat, setid.mat}; train+val 2,040 / test 6,149 (the usual transfer split).
fg_num_classes = 102
fg_train_dataset = dict(type='Flowers102', data_root='data/Flowers102', split='trainval')
fg_test_dataset = dict(type='Flowers102', data_root='data/Flowers102', split='test')
